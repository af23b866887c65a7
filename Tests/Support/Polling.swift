// Waiting for something to become true without sleeping a guessed amount: poll, with a deadline.

import Foundation

public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let description: String
}

/// Calls `probe` until it returns a value, every `interval`, failing after `timeout`.
@discardableResult
public func poll<Value>(
    timeout: Duration = .seconds(10),
    interval: Duration = .milliseconds(25),
    _ what: String,
    _ probe: () async throws -> Value?
) async throws -> Value {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await probe() { return value }
        guard ContinuousClock.now < deadline else {
            throw DeadlineExceeded(description: "gave up after \(timeout) waiting for \(what)")
        }
        try await Task.sleep(for: interval)
    }
}
