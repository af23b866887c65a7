// A throw-away database per suite: cloned from the template that holds pgvector, migrated with
// the real migrations, dropped afterwards. Tests never touch the developer's `enface` database.

import Foundation
import Logging
import PostgresNIO
import Storage
import Testing

public struct ScratchDatabase: Sendable {
    public let name: String
    let base: [DatabaseRole: DatabaseEndpoint]

    /// The database of the enclosing `.scratchDatabase` suite.
    @TaskLocal public static var current: ScratchDatabase?

    /// The enclosing suite's database, or a failure that names the missing trait.
    public static func required() throws -> ScratchDatabase {
        guard let current else { throw TestEnvironmentError("this suite needs the .scratchDatabase trait") }
        return current
    }

    public func endpoint(_ role: DatabaseRole) -> DatabaseEndpoint {
        base[role]!.with(database: name)
    }

    /// The variables that point Enface (the library or the binary) at this database.
    public var environment: [String: String] {
        [
            "ENFACE_DATABASE_URL": endpoint(.owner).url,
            "ENFACE_DATABASE_APP_URL": endpoint(.app).url,
            "ENFACE_DATABASE_ADMIN_URL": endpoint(.admin).url,
        ]
    }

    /// Creates `enface_test_<random>` from the template; migrated unless asked not to be.
    public static func create(migrated: Bool = true) async throws -> ScratchDatabase {
        var base: [DatabaseRole: DatabaseEndpoint] = [:]
        for role in DatabaseRole.allCases {
            base[role] = try TestEnvironment.endpoint(for: role)
        }
        let name = "enface_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let maintenance = base[.owner]!.with(database: "postgres")
        _ = try await maintenance.withConnection(logger: TestEnvironment.logger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(EmbeddedPostgres.templateName)"),
                logger: TestEnvironment.logger)
        }
        let database = ScratchDatabase(name: name, base: base)
        if migrated {
            try await Migrator(migrations: try Migration.bundled())
                .migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        }
        return database
    }

    public func drop() async throws {
        let maintenance = base[.owner]!.with(database: "postgres")
        _ = try await maintenance.withConnection(logger: TestEnvironment.logger) { connection in
            // PostgreSQL waits up to 5 s for closing sessions to leave before refusing.
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name)"), logger: TestEnvironment.logger)
        }
    }

    /// A pool of `role` on this database, running for the length of `body`.
    public func withPool<Result: Sendable>(
        _ role: DatabaseRole, maximumConnections: Int = 4, _ body: (PostgresPool) async throws -> Result
    ) async throws -> Result {
        let pool = PostgresPool(
            endpoint: endpoint(role), role: role, maximumConnections: maximumConnections, logger: TestEnvironment.logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            defer { group.cancelAll() }
            return try await body(pool)
        }
    }

    /// A connection of `role` on this database, outside any pool (for statements that must not
    /// run inside `withTenant`, or that change session state).
    public func withConnection<Result: Sendable>(
        _ role: DatabaseRole, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await endpoint(role).withConnection(logger: TestEnvironment.logger, body)
    }
}

/// Gives a suite (or one test) its own scratch database, dropped when it ends.
public struct ScratchDatabaseTrait: SuiteTrait, TestTrait, TestScoping {
    let migrated: Bool

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let database = try await ScratchDatabase.create(migrated: migrated)
        do {
            try await ScratchDatabase.$current.withValue(database) { try await function() }
        } catch {
            try? await database.drop()
            throw error
        }
        try await database.drop()
    }
}

extension Trait where Self == ScratchDatabaseTrait {
    /// A migrated scratch database for the suite or test.
    public static var scratchDatabase: Self { ScratchDatabaseTrait(migrated: true) }
    /// A scratch database with no schema yet, for migration tests.
    public static var emptyScratchDatabase: Self { ScratchDatabaseTrait(migrated: false) }
}
