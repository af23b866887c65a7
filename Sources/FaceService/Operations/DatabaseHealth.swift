// What the layers above may know of the database without holding it: whether it is ready for
// this binary, how an outage is named, and how a database error may be logged.

import Logging
import PostgresNIO
import Storage

/// The database could not be reached in time; the request changed nothing (HTTP: 503).
public typealias DatabaseUnavailable = Storage.DatabaseUnavailable

/// Whether the database answers with the schema this binary expects.
public struct DatabaseReadiness: Sendable {
    public enum State: Sendable, Equatable {
        case ready
        /// Migrations this binary has that the database has not applied.
        case pending([Int])
        /// The database's migrations do not match this binary's (edited, or from a newer one).
        case invalid(String)
    }

    let pool: PostgresPool
    let migrator: Migrator

    public init(pool: PostgresPool, migrator: Migrator) {
        self.pool = pool
        self.migrator = migrator
    }

    public func state() async throws -> State {
        switch try await migrator.state(using: pool) {
        case .current: .ready
        case .pending(let versions): .pending(versions)
        case .invalid(let problem): .invalid(problem.description)
        }
    }
}

/// How a database error may be logged: its type, SQLSTATE and code, never its message (which
/// can quote data). Nil for an error that is not the database's.
public func databaseErrorMetadata(_ error: any Error) -> Logger.Metadata? {
    guard let error = error as? PSQLError else { return nil }
    return ["error.type": "PSQLError", "sql.state": "\(error.serverInfo?[.sqlState] ?? "none")", "error.code": "\(error.code)"]
}
