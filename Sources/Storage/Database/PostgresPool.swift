// A pool of connections logged in as one role, and the transactions Enface runs on it. Every
// wait is bounded: PostgresNIO keeps a lease waiting up to its 60 s circuit breaker when the
// database is down, and backs off up to a minute between reconnects after a long outage.

import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The database could not be reached in time: no connection within the lease deadline, or the
/// connection broke under a statement. Every request answers it at once (503), never after a
/// minute's wait.
public struct DatabaseUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "database unavailable: \(reason)" }
}

/// Connections of one `DatabaseRole`. Run it as a service: it runs PostgresNIO's pool and watches
/// the database, replacing a pool stuck in its reconnect back-off once the database answers again.
public final class PostgresPool: Service, Sendable {
    public let role: DatabaseRole
    public let endpoint: DatabaseEndpoint
    public let logger: Logger
    /// How long a transaction waits for a connection while the database answers (all busy)
    /// before it is answered as unavailable. While it does not answer, the wait ends sooner: the
    /// watcher probes the database once a lease has waited half a second, and a refused
    /// connection ends every waiting lease within a second (a silent database within four).
    public let leaseDeadline: Duration
    /// Connections the pool opens at most.
    public let maximumConnections: Int
    private let configuration: PostgresClient.Configuration
    /// The pool in use, and how to retire it.
    private let current: Mutex<Generation>
    private let health = Mutex(Health())
    private let replacements: (stream: AsyncStream<Generation>, continuation: AsyncStream<Generation>.Continuation)

    /// One PostgresNIO pool and the signal that retires it.
    struct Generation: Sendable {
        let client: PostgresClient
        let retirement: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)

        init(configuration: PostgresClient.Configuration, logger: Logger) {
            client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            retirement = AsyncStream.makeStream()
        }

        /// Runs the pool until it is retired or the service shuts down.
        func run() async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                group.addTask { for await _ in retirement.stream {} }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// What the pool has seen of the database lately.
    struct Health {
        /// When a lease or a statement last failed for want of the database; nil while it answers.
        var failingSince: ContinuousClock.Instant?
        /// When a probe last found it unreachable: waiting leases give up, new ones fail at once.
        var lastUnreachable: ContinuousClock.Instant?
        /// Leases waiting for a connection, by number: when each began, and how to end its wait.
        var waiting: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0

        /// When the watcher last asked the database directly.
        var lastProbe: ContinuousClock.Instant?

        /// Whether the watcher should ask the database directly: while statements fail, at once;
        /// while a lease waits long (all connections busy, or the database silent), once a second.
        func needsProbe(now: ContinuousClock.Instant) -> Bool {
            if failingSince != nil { return lastProbe.map { now - $0 >= .milliseconds(250) } ?? true }
            guard waiting.values.contains(where: { now - $0.since > .milliseconds(500) }) else { return false }
            return lastProbe.map { now - $0 >= .seconds(1) } ?? true
        }
    }

    /// A lease waiting for its connection. The watcher ends the wait when it is over (one loop
    /// for all of them: a timer per transaction would cost more than the transaction).
    struct Waiter {
        let since: ContinuousClock.Instant
        let handover: AsyncThrowingStream<PostgresConnection, any Error>.Continuation
    }

    public init(
        endpoint: DatabaseEndpoint, role: DatabaseRole, maximumConnections: Int = 20, leaseDeadline: Duration = .seconds(10),
        logger: Logger
    ) {
        var configuration = endpoint.clientConfiguration
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(10)
        self.role = role
        self.endpoint = endpoint
        self.leaseDeadline = leaseDeadline
        self.maximumConnections = maximumConnections
        self.logger = logger.databaseSafe
        self.configuration = configuration
        self.current = Mutex(Generation(configuration: configuration, logger: self.logger))
        self.replacements = AsyncStream.makeStream()
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            let first = current.withLock { $0 }
            group.addTask { await first.run() }
            group.addTask { await self.watch() }
            // A replacement starts, then the pool it replaces is retired; the stream ends when the
            // watcher does, at shutdown.
            for await replacement in replacements.stream {
                group.addTask { await replacement.run() }
            }
        }
    }

    /// Whether the database answered the last time it was asked (leases and probes).
    public var isReachable: Bool { health.withLock { $0.failingSince == nil } }

    // MARK: Transactions

    /// Runs `body` in one transaction in which only `tenantID`'s rows are visible or writable.
    ///
    /// The tenant is set with `set_config(…, true)`: local to this transaction, so a pooled
    /// connection never carries one tenant into the next request. Commits when `body` returns,
    /// rolls back when it throws; an error of `body` is rethrown unchanged. `snapshot` runs it
    /// read-only at REPEATABLE READ: every statement sees the same moment (a shard load).
    @discardableResult
    public func withTenant<Result: Sendable>(
        _ tenantID: UUID,
        snapshot: Bool = false,
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (TenantTransaction) async throws -> Result
    ) async throws -> Result {
        let logger = (logger ?? self.logger).databaseSafe
        return try await withTransaction(snapshot: snapshot, logger: logger) { connection in
            try await connection.answered(logger: logger) {
                _ = try await connection.query(
                    "SELECT set_config('app.tenant_id', \(tenantID.uuidString.lowercased()), true)", logger: logger
                ).collect()
            }
            return try await body(TenantTransaction(tenantID: tenantID, connection: connection, logger: logger))
        }
    }

    /// Runs `body` in one transaction with no tenant set: tenant tables show no rows. For the
    /// operator plane's cross-tenant views (the tenants table) and for platform work.
    @discardableResult
    public func withTransaction<Result: Sendable>(
        snapshot: Bool = false,
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = (logger ?? self.logger).databaseSafe
        return try await withConnection { connection in
            try await Self.transaction(
                on: connection, begin: snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", logger: logger
            ) {
                try await body(connection)
            }
        }
    }

    /// One statement outside any explicit transaction, with no tenant set; its rows, read whole
    /// before the connection goes back to the pool.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger? = nil) async throws -> [PostgresRow] {
        let logger = (logger ?? self.logger).databaseSafe
        return try await withConnection { connection in
            try await connection.answered(logger: logger) { try await connection.query(query, logger: logger).collect() }
        }
    }

    /// A connection from the pool for `body`, or `DatabaseUnavailable` when none comes within
    /// the lease deadline (at once while a probe has just found the database unreachable), or
    /// when the connection breaks under `body`.
    ///
    /// PostgresNIO's lease takes a closure and waits without a deadline; the lease is made in a
    /// child task that hands the connection over and holds it until `body` is done, so that
    /// `body` runs here, in the caller's isolation, and the wait can be cut short.
    public func withConnection<Result: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        if let unreachable = health.withLock({ $0.lastUnreachable }), ContinuousClock.now - unreachable < .seconds(1) {
            throw DatabaseUnavailable("the database did not answer the last probe")
        }
        let client = current.withLock { $0.client }
        let handover = AsyncThrowingStream<PostgresConnection, any Error>.makeStream()
        let done = AsyncStream<Void>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self, isolation: isolation) { group in
            group.addTask {
                do {
                    try await client.withConnection { connection in
                        handover.continuation.yield(connection)
                        // Held until the caller is done with it, cancelled or not: an iteration in
                        // this (cancellable) child would end at the caller's cancellation and give
                        // the connection back while the caller still runs statements on it.
                        await Task { for await _ in done.stream {} }.value
                    }
                } catch {
                    handover.continuation.finish(throwing: error)
                }
            }
            let waiter = health.withLock { health in
                health.nextWaiter += 1
                health.waiting[health.nextWaiter] = Waiter(since: .now, handover: handover.continuation)
                return health.nextWaiter
            }
            defer {
                health.withLock { _ = $0.waiting.removeValue(forKey: waiter) }
                done.continuation.finish()
            }
            var connections = handover.stream.makeAsyncIterator()
            let connection: PostgresConnection
            do {
                guard let leased = try await connections.next(isolation: isolation) else {
                    throw DatabaseUnavailable("the pool gave no connection")
                }
                connection = leased
            } catch {
                // The wait is over: stop asking the pool (PostgresNIO's lease is cancellable).
                group.cancelAll()
                if let error = error as? DatabaseUnavailable { throw error }
                // The caller gave up (a deadline of its own): that says nothing of the database.
                if error is CancellationError || Task.isCancelled { throw CancellationError() }
                // The pool itself failed the lease: it cannot connect.
                noteFailure()
                throw DatabaseUnavailable("no connection: \(type(of: error))")
            }
            health.withLock { _ = $0.waiting.removeValue(forKey: waiter) }
            handover.continuation.finish()
            do {
                let result = try await body(connection)
                noteSuccess()
                return result
            } catch let error where Self.isConnectionFailure(error) {
                noteFailure()
                throw DatabaseUnavailable("the connection broke: \(type(of: error))")
            } catch let error as DatabaseUnavailable where connection.isClosed {
                // A statement given up on its closed connection (`answered`); not a part of a
                // split read that found every connection busy, which says nothing of the database.
                noteFailure()
                throw error
            }
        }
    }

    /// BEGIN … COMMIT around `body`; ROLLBACK and rethrow `body`'s own error when it throws.
    /// (PostgresNIO's `withTransaction` wraps errors, which would hide typed domain errors.)
    static func transaction<Result>(
        on connection: PostgresConnection, begin: String = "BEGIN", logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        _ = try await connection.answered(logger: logger) { try await connection.query(PostgresQuery(unsafeSQL: begin), logger: logger) }
        let value: Result
        do {
            value = try await body()
        } catch {
            // Not even a cancelled request may leave its transaction open on a pooled connection
            // (it would hold its locks for ever): roll back outside the cancellation, or close.
            do {
                _ = try await Task {
                    try await connection.answered(logger: logger) { try await connection.query("ROLLBACK", logger: logger) }
                }.value
            } catch {
                try? await connection.close()
            }
            throw error
        }
        // Only a successful COMMIT makes the work real; its failure is the caller's failure, and
        // a connection whose COMMIT did not answer is not trusted again.
        do {
            _ = try await connection.answered(logger: logger) { try await connection.query("COMMIT", logger: logger) }
        } catch {
            try? await connection.close()
            throw error
        }
        return value
    }

    /// Errors that say the database is gone, not that a statement was wrong.
    static func isConnectionFailure(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed:
            return true
        case .server:
            // Class 08 (connection exception) and 57P (the server is shutting down or restarting).
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default:
            return false
        }
    }

    // MARK: Watching the database

    private func noteFailure() {
        health.withLock { health in
            if health.failingSince == nil { health.failingSince = .now }
        }
    }

    private func noteSuccess() {
        health.withLock { health in
            health.failingSince = nil
            health.lastUnreachable = nil
        }
    }

    /// While leases fail or wait long: probe the database on a connection of its own, four times
    /// a second. Unreachable: waiting leases give up at once. Reachable again after failures: a
    /// pool that still gives no connection is stuck in its back-off (which grows to a minute) and
    /// is replaced by a fresh one, so recovery takes seconds.
    private func watch() async {
        defer { replacements.continuation.finish() }
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                endWaits(now: .now)
                let due = health.withLock { health in
                    guard health.needsProbe(now: .now) else { return false }
                    health.lastProbe = .now
                    return true
                }
                guard !Task.isCancelled, due else { continue }
                // Unreachable means refused (or closed, or failing to log in): a database that is
                // down says so at once. A probe that only takes long says nothing (a busy machine
                // is slow to open a connection): then leases wait out their deadline as usual.
                let probe: Result<Void, any Error>
                do {
                    try await withLimit(.seconds(3)) {
                        try await self.endpoint.withConnection(logger: self.logger) { connection in
                            _ = try await connection.query("SELECT 1", logger: self.logger).collect()
                        }
                    }
                    probe = .success(())
                } catch {
                    probe = .failure(error)
                }
                if case .failure(let error) = probe, error is DatabaseUnavailable { continue }  // no answer in time
                guard case .success = probe else {
                    health.withLock { health in
                        health.lastUnreachable = .now
                        if health.failingSince == nil { health.failingSince = .now }
                    }
                    continue
                }
                let failing = health.withLock { health in
                    health.lastUnreachable = nil
                    return health.failingSince != nil
                }
                guard failing else { continue }  // merely busy
                if (try? await withLimit(.seconds(1), { try await self.query("SELECT 1") })) != nil {
                    noteSuccess()  // the pool found its way back by itself
                    continue
                }
                replaceClient()
                noteSuccess()
            }
        }
    }

    /// Ends the waits that are over: past the lease deadline, or begun before a probe found the
    /// database unreachable.
    private func endWaits(now: ContinuousClock.Instant) {
        let ended = health.withLock { health -> [(Waiter, DatabaseUnavailable)] in
            var ended: [(Waiter, DatabaseUnavailable)] = []
            for (number, waiter) in health.waiting {
                if let unreachable = health.lastUnreachable, unreachable > waiter.since {
                    ended.append((waiter, DatabaseUnavailable("the database does not answer")))
                } else if now - waiter.since > leaseDeadline {
                    ended.append((waiter, DatabaseUnavailable("every connection stayed busy for \(leaseDeadline)")))
                } else {
                    continue
                }
                health.waiting[number] = nil
            }
            return ended
        }
        for (waiter, reason) in ended { waiter.handover.finish(throwing: reason) }
    }

    private func replaceClient() {
        let fresh = Generation(configuration: configuration, logger: logger)
        replacements.continuation.yield(fresh)
        let retired = current.withLock { current in
            defer { current = fresh }
            return current
        }
        // It gave no connection for seconds: nothing of value is leased from it.
        retired.retirement.continuation.finish()
        logger.notice("database answers again: replaced a connection pool stuck in its back-off", metadata: ["role": "\(role)"])
    }

    /// `body`, or an error once `limit` has passed.
    private func withLimit<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw DatabaseUnavailable("no answer within \(limit)")
            }
            return value
        }
    }
}

extension Logger {
    /// PostgresNIO logs statements and their bound parameters at debug level; parameters can be
    /// templates or key hashes, so database loggers never go below info.
    var databaseSafe: Logger {
        var logger = self
        if logger.logLevel < .info { logger.logLevel = .info }
        return logger
    }
}

extension PostgresConnection {
    /// Runs a script of several statements, one after another. For trusted SQL only: our
    /// migrations and bootstrap, never anything built from input.
    func executeScript(_ sql: String, logger: Logger) async throws {
        for statement in SQLScript.statements(sql) {
            try await execute(statement, logger: logger)
        }
    }

    /// One statement of trusted SQL with no parameters (DDL, which cannot take bind parameters).
    func execute(_ statement: String, logger: Logger) async throws {
        try await query(PostgresQuery(unsafeSQL: statement), logger: logger)
    }
}
