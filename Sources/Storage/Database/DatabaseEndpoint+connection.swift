// A single connection outside the pools: for migrations and the superuser bootstrap.

import Logging
import PostgresNIO

extension DatabaseEndpoint {
    /// Opens a connection of its own, runs `body`, and closes it whatever happens; session state
    /// (such as an advisory lock) dies with it.
    public func withConnection<Result: Sendable>(
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = logger.databaseSafe
        let connection = try await PostgresConnection.connect(
            configuration: try connectionConfiguration(), id: 1, logger: logger)
        let result: Result
        do {
            result = try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        return result
    }
}
