// Waiting on the database, but not for ever.

struct DeadlineExceeded: Error {}

/// Runs `body`, giving up after `limit` with `DeadlineExceeded`: a probe must answer, and a
/// server must start listening, even when the database does not answer.
func withDeadline<Value: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    try await withThrowingTaskGroup(of: Value.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
