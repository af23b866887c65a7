// Errors of the storage layer, each with a message an operator can act on.

/// What can go wrong reaching, configuring or running the database.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A database URL could not be understood.
    case invalidDatabaseURL(String)
    /// A setting the chosen database mode needs is missing.
    case missingConfiguration(String)
    /// The embedded PostgreSQL could not be found, started, stopped or bootstrapped.
    case embedded(String)
    /// A command the embedded PostgreSQL runs failed.
    case commandFailed(command: String, status: Int32, output: String)

    public var description: String {
        switch self {
        case .invalidDatabaseURL(let reason): "invalid database URL: \(reason)"
        case .missingConfiguration(let reason): "missing configuration: \(reason)"
        case .embedded(let reason): "embedded PostgreSQL: \(reason)"
        case .commandFailed(let command, let status, let output):
            "\(command) exited with status \(status)\(output.isEmpty ? "" : ":\n\(output)")"
        }
    }
}

/// A statement that always answers a row did not: the database is not what this code expects
/// (a hand-edited row, a race the schema should have prevented). Never trapped on.
public enum RepositoryError: Error, Equatable, Sendable {
    case noRow(String)
}

extension Optional {
    /// The value, or `error` thrown: for answers that are always there unless something is wrong.
    public func orThrow(_ error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
