// Applies migrations in order, each in its own transaction, one process at a time.

import Foundation
import Logging
import PostgresNIO

/// Brings a database's schema up to date with a list of migrations.
///
/// Runs on one dedicated connection holding a session-level advisory lock, so two processes
/// never migrate at once: the second waits, then finds nothing left to do. The lock dies with
/// the connection, so a crashed migrator cannot leave it held.
public struct Migrator: Sendable {
    public struct Report: Sendable, Equatable {
        public var applied: [Int]
        public var alreadyApplied: [Int]
    }

    public enum State: Sendable, Equatable {
        case current
        case pending([Int])
        case invalid(MigrationError)
    }

    /// pg_advisory_lock key: "enface" in ASCII.
    static let lockKey: Int64 = 0x656E_6661_6365

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies every pending migration as `endpoint`'s role (the schema owner).
    @discardableResult
    public func migrate(_ endpoint: DatabaseEndpoint, logger: Logger) async throws -> Report {
        let logger = logger.databaseSafe
        return try await endpoint.withConnection(logger: logger) { connection in
            try await migrate(on: connection, logger: logger)
        }
    }

    func migrate(on connection: PostgresConnection, logger: Logger) async throws -> Report {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        let applied = try await Self.appliedMigrations(on: connection, logger: logger)
        if let problem = check(applied: applied) { throw problem }

        var report = Report(applied: [], alreadyApplied: applied.map(\.version))
        for migration in migrations where !applied.contains(where: { $0.version == migration.version }) {
            logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            do {
                try await PostgresPool.transaction(on: connection, logger: logger) {
                    try await connection.executeScript(migration.sql, logger: logger)
                    try await connection.query(
                        """
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """, logger: logger)
                }
            } catch let error as PSQLError {
                throw MigrationError.failed(
                    version: migration.version, name: migration.name,
                    reason: error.serverInfo?[.message] ?? String(reflecting: error))
            }
            report.applied.append(migration.version)
        }
        try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
        return report
    }

    /// Whether the database is at this binary's schema, without changing anything. Readable by
    /// the runtime roles, which may SELECT schema_migrations.
    public func state(using pool: PostgresPool) async throws -> State {
        let applied = try await pool.withTransaction { connection in
            try await Self.appliedMigrations(on: connection, logger: pool.logger)
        }
        return state(applied: applied)
    }

    /// The same, over a connection of its own (for commands that run no pool).
    public func state(_ endpoint: DatabaseEndpoint, logger: Logger) async throws -> State {
        let logger = logger.databaseSafe
        let applied = try await endpoint.withConnection(logger: logger) { connection in
            try await Self.appliedMigrations(on: connection, logger: logger)
        }
        return state(applied: applied)
    }

    private func state(applied: [AppliedMigration]) -> State {
        if let problem = check(applied: applied) { return .invalid(problem) }
        let pending = migrations.map(\.version).filter { version in !applied.contains { $0.version == version } }
        return pending.isEmpty ? .current : .pending(pending)
    }

    struct AppliedMigration: Sendable {
        var version: Int
        var name: String
        var checksum: String
    }

    private func check(applied: [AppliedMigration]) -> MigrationError? {
        for record in applied {
            guard let migration = migrations.first(where: { $0.version == record.version }) else {
                return .unknownApplied(version: record.version, name: record.name)
            }
            if migration.checksum != record.checksum {
                return .changedAfterApply(
                    version: record.version, name: record.name, recorded: record.checksum, current: migration.checksum)
            }
        }
        return nil
    }

    static func appliedMigrations(on connection: PostgresConnection, logger: Logger) async throws -> [AppliedMigration] {
        let exists = try await connection.query(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL", logger: logger
        ).collect().first?.decode(Bool.self) ?? false
        guard exists else { return [] }
        var applied: [AppliedMigration] = []
        let rows = try await connection.query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            applied.append(AppliedMigration(version: version, name: name, checksum: checksum))
        }
        return applied
    }
}
