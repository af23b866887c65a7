// A pool of connections logged in as one role, and the transactions Enface runs on it.

import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Connections of one `DatabaseRole`. Run it as a service (it owns PostgresNIO's pool).
public final class PostgresPool: Service, Sendable {
    public let role: DatabaseRole
    public let endpoint: DatabaseEndpoint
    let client: PostgresClient
    public let logger: Logger

    public init(endpoint: DatabaseEndpoint, role: DatabaseRole, maximumConnections: Int = 20, logger: Logger) {
        var configuration = endpoint.clientConfiguration
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(10)
        self.role = role
        self.endpoint = endpoint
        self.logger = logger.databaseSafe
        self.client = PostgresClient(configuration: configuration, backgroundLogger: self.logger)
    }

    public func run() async {
        await client.run()
    }

    /// Runs `body` in one transaction in which only `tenantID`'s rows are visible or writable.
    ///
    /// The tenant is set with `set_config(…, true)`: local to this transaction, so a pooled
    /// connection never carries one tenant into the next request. Commits when `body` returns,
    /// rolls back when it throws; an error of `body` is rethrown unchanged.
    @discardableResult
    public func withTenant<Result: Sendable>(
        _ tenantID: UUID,
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (TenantTransaction) async throws -> Result
    ) async throws -> Result {
        let logger = (logger ?? self.logger).databaseSafe
        return try await withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT set_config('app.tenant_id', \(tenantID.uuidString.lowercased()), true)", logger: logger)
            return try await body(TenantTransaction(tenantID: tenantID, connection: connection, logger: logger))
        }
    }

    /// Runs `body` in one transaction with no tenant set: tenant tables show no rows. For the
    /// operator plane's cross-tenant views (the tenants table) and for platform work.
    @discardableResult
    public func withTransaction<Result: Sendable>(
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = (logger ?? self.logger).databaseSafe
        return try await client.withConnection(isolation: isolation) { connection in
            try await Self.transaction(on: connection, logger: logger, isolation: isolation) {
                try await body(connection)
            }
        }
    }

    /// One statement outside any explicit transaction, with no tenant set.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger? = nil) async throws -> PostgresRowSequence {
        try await client.query(query, logger: (logger ?? self.logger).databaseSafe)
    }

    /// BEGIN … COMMIT around `body`; ROLLBACK and rethrow `body`'s own error when it throws.
    /// (PostgresNIO's `withTransaction` wraps errors, which would hide typed domain errors.)
    static func transaction<Result>(
        on connection: PostgresConnection, logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await connection.query("BEGIN", logger: logger)
        let value: Result
        do {
            value = try await body()
        } catch {
            // Not even a cancelled request may leave its transaction open on a pooled connection
            // (it would hold its locks for ever): roll back outside the cancellation, or close.
            do {
                try await Task { try await connection.query("ROLLBACK", logger: logger) }.value
            } catch {
                try? await connection.close()
            }
            throw error
        }
        // Only a successful COMMIT makes the work real; its failure is the caller's failure, and
        // a connection whose COMMIT did not answer is not trusted again.
        do {
            try await connection.query("COMMIT", logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        return value
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
