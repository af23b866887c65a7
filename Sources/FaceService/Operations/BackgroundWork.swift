// Work a request starts but does not wait for: a shard's load while pgvector answers, the drop of
// a shard gone stale or over the memory budget. It runs as a child of this service, which the
// node's service group owns: at graceful shutdown no new work is taken and what runs is awaited,
// and an error is logged, never lost with a task nobody holds.

import Logging
import ServiceLifecycle
import Synchronization

public final class BackgroundWork: Service, Sendable {
    struct Job: Sendable {
        let name: String
        let work: @Sendable () async throws -> Void
    }

    enum State {
        /// Not run by a service group (yet): work starts at once in a task of its own, as a
        /// registry used alone (a unit test, a command) needs.
        case alone
        case running(AsyncStream<Job>.Continuation)
        /// Shut down: work offered now is not started.
        case stopped
    }

    private let state = Mutex<State>(.alone)
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Whether a service group runs it (work goes through it, and is awaited at shutdown).
    var isRunning: Bool {
        state.withLock { if case .running = $0 { true } else { false } }
    }

    /// Whether it was shut down: work offered now is not started at all.
    var hasStopped: Bool {
        state.withLock { if case .stopped = $0 { true } else { false } }
    }

    /// Runs `work` in the background, named for the log should it fail.
    public func submit(_ name: String, _ work: @escaping @Sendable () async throws -> Void) {
        let job = Job(name: name, work: work)
        let alone = state.withLock { state -> Bool in
            switch state {
            case .alone: return true
            case .running(let jobs): jobs.yield(job)
            case .stopped: logger.debug("background work refused at shutdown", metadata: ["work": "\(name)"])
            }
            return false
        }
        if alone { Task { await perform(job) } }
    }

    public func run() async throws {
        let (jobs, continuation) = AsyncStream<Job>.makeStream()
        state.withLock { $0 = .running(continuation) }
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await job in jobs {
                    group.addTask { await self.perform(job) }
                }
            } onGracefulShutdown: {
                self.state.withLock { $0 = .stopped }
                continuation.finish()
            }
        }
        // The group has awaited every job started before the shutdown.
        state.withLock { $0 = .stopped }
    }

    private func perform(_ job: Job) async {
        do {
            try await job.work()
        } catch is CancellationError {
            return
        } catch {
            logger.error("background work failed", metadata: ["work": "\(job.name)", "error.type": "\(type(of: error))"])
        }
    }
}
