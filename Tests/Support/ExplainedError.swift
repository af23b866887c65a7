// PSQLError hides the server's message from `description` (it may quote data); a test failure
// should show it, so fixtures rethrow database errors with SQLSTATE and message spelled out.

import PostgresNIO

public struct ExplainedError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs `body`, turning a PostgreSQL error into one whose description says what went wrong.
public func explained<Value>(
    _ what: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Value
) async throws -> Value {
    do {
        return try await body()
    } catch let error as PSQLError {
        throw ExplainedError(
            description: "\(what): SQLSTATE \(error.serverInfo?[.sqlState] ?? "-") "
                + "\(error.serverInfo?[.message] ?? "\(error.code)")")
    }
}
