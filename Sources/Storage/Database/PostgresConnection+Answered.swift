// A statement whose connection is gone is answered, always. PostgresNIO (1.33.2) can lose a
// statement sent just as the server closes the connection: its promise is never completed, and
// the transaction that sent it waits for ever. Seen with `enface db stop` under load: a BEGIN
// on a connection leased at that moment never returned, and every own write of its tenant then
// waited behind it (an enroll hung; the usage flush stopped for good).

import Logging
import NIOCore
import PostgresNIO
import Synchronization

extension PostgresConnection {
    /// How often a statement's connection is looked at while the statement runs, and how many
    /// looks in a row must find it closed before the statement is given up.
    static let closedLooks = (interval: TimeAmount.seconds(1), count: 2)

    /// `operation` (statements on this connection), or `DatabaseUnavailable` once the connection
    /// has been found closed twice, a second apart, while `operation` still waits. A statement
    /// on an open connection is never given up, however long it runs. The operation runs in a
    /// task of its own, which is left behind if it never ends.
    /// The caller's cancellation reaches `operation` (reading rows stops, as it did before).
    func answered<T: Sendable>(logger: Logger, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let waiting = Waiting<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiting.start(continuation)
                waiting.run(Task {
                    do {
                        waiting.end(with: .success(try await operation()))
                    } catch {
                        waiting.end(with: .failure(error))
                    }
                })
                look(waiting, closedSoFar: 0, logger: logger)
            }
        } onCancel: {
            waiting.cancel()
        }
    }

    private func look<T>(_ waiting: Waiting<T>, closedSoFar: Int, logger: Logger) {
        let scheduled = eventLoop.scheduleTask(in: Self.closedLooks.interval) { [self] in
            let closed = isClosed ? closedSoFar + 1 : 0
            guard closed >= Self.closedLooks.count else { return look(waiting, closedSoFar: closed, logger: logger) }
            if waiting.end(with: .failure(DatabaseUnavailable("a statement got no answer on a closed connection"))) {
                logger.warning("a statement got no answer on a closed connection; given up")
            }
        }
        waiting.watch(scheduled)
    }
}

/// One statement's caller: resumed once, by the statement's end or by the look that gives it up.
private final class Waiting<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var look: Scheduled<Void>?
        var task: Task<Void, Never>?
        var ended = false
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Keeps the statement's task, so that the caller's cancellation can reach it.
    func run(_ task: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    /// The caller was cancelled: so is the statement's task (once it is known).
    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }

    /// Keeps the next look, so that the end can cancel it (none is kept after the end).
    func watch(_ look: Scheduled<Void>) {
        let cancel = state.withLock { state -> Bool in
            if state.ended { return true }
            state.look = look
            return false
        }
        if cancel { look.cancel() }
    }

    /// Resumes the caller with `result`, unless it was resumed before; whether it was this call.
    @discardableResult
    func end(with result: Result<T, any Error>) -> Bool {
        let (continuation, look) = state.withLock { state in
            defer {
                state.continuation = nil
                state.look = nil
                state.task = nil
                state.ended = true
            }
            return (state.continuation, state.look)
        }
        look?.cancel()
        continuation?.resume(with: result)
        return continuation != nil
    }
}
