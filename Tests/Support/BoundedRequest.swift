// A request a server never answers fails its test; it does not hold the whole run until CI's
// timeout. Hummingbird's test client cannot do this by itself: its read timeout stops waiting,
// but its task group still awaits the answer's promise, which only an answer or a closed
// connection completes. One unanswered request once kept a CI run waiting 25 minutes.

import HTTPTypes
import HummingbirdTesting

/// No answer came in time; the connection was closed.
public struct NoAnswer: Error, CustomStringConvertible {
    public let description: String
}

extension TestClient {
    /// `execute(_:)`, or `NoAnswer` once `limit` has passed without an answer; the connection is
    /// then closed, which ends the request. `server` describes the server for the error (its
    /// log's last lines, say), so that a hang says where it hung.
    public func execute(
        _ request: Request, within limit: Duration, server: @Sendable () -> String = { "" }
    ) async throws -> Response {
        try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask { try await self.execute(request) }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            if let answered = try await group.next(), let response = answered { return response }
            try? await close(mode: .all)
            let target = "\(request.head.method) \(request.head.path ?? "/")"
            let context = server()
            throw NoAnswer(description: "no answer to \(target) within \(limit)" + (context.isEmpty ? "" : "; the server said:\n\(context)"))
        }
    }
}
