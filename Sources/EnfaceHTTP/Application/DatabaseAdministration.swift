// The database as the command line runs it: the embedded server's life, the schema's migrations,
// and how to reach each role. Composed here, beside `buildApplication`, so that the command line
// holds no Storage types.

import Foundation
import Logging
import Storage

public struct DatabaseAdministration: Sendable {
    let configuration: EnfaceConfiguration
    let logger: Logger

    public init(_ configuration: EnfaceConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Why the command line's request cannot be done.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    /// The roles a URL can be printed for: owner, app and admin.
    public static let roles = DatabaseRole.allCases.map(\.rawValue)

    // MARK: The embedded PostgreSQL

    /// Initialises (the first time), starts and bootstraps the embedded server. False when it
    /// was running already; either way, the directory of its socket.
    public func startEmbedded() async throws -> (started: Bool, socketDirectory: String) {
        let postgres = try embedded()
        let outcome = try await postgres.start(logger: logger)
        return (outcome == .started, postgres.socketDirectory.path)
    }

    /// Stops the embedded server; false when it was not running.
    public func stopEmbedded() throws -> Bool {
        try embedded().stop()
    }

    /// Whether the embedded server is initialised and runs (its process id), and where its data is.
    public func embeddedStatus() throws -> (initialized: Bool, pid: Int32?, dataDirectory: String) {
        let postgres = try embedded()
        let status = try postgres.status()
        return (status.initialized, status.pid, postgres.clusterDirectory.path)
    }

    /// The libpq URL of `role` (owner, app or admin), password included.
    public func url(role: String) throws -> String {
        guard let role = DatabaseRole(rawValue: role) else {
            throw Refusal(description: "no role \(role): say \(Self.roles.joined(separator: ", "))")
        }
        return try configuration.database.endpoint(for: role).url
    }

    private func embedded() throws -> EmbeddedPostgres {
        guard case .embedded(let postgres) = configuration.database else {
            throw Refusal(description: "ENFACE_DATABASE_URL is set: the external database is in use, not the embedded one")
        }
        return postgres
    }

    // MARK: The schema

    /// Migrations pending, as the schema owner sees them (empty: the schema is current), and how
    /// many this binary has. A schema that does not match this binary's migrations is an error.
    public func pendingMigrations() async throws -> (pending: [Int], known: Int) {
        let migrator = Migrator(migrations: try Migration.bundled())
        switch try await migrator.state(try configuration.database.endpoint(for: .owner), logger: logger) {
        case .current: return ([], migrator.migrations.count)
        case .pending(let versions): return (versions, migrator.migrations.count)
        case .invalid(let problem): throw Refusal(description: problem.description)
        }
    }

    /// Applies every pending migration as the schema owner; the versions applied.
    public func migrate() async throws -> [Int] {
        let migrator = Migrator(migrations: try Migration.bundled())
        return try await migrator.migrate(try configuration.database.endpoint(for: .owner), logger: logger).applied
    }
}

extension EnfaceConfiguration {
    /// Whether the embedded PostgreSQL is the database in use (no external URL is set).
    public var usesEmbeddedDatabase: Bool {
        if case .embedded = database { true } else { false }
    }
}
