// Work a request starts but does not wait for: a shard's load while pgvector answers, the drop of
// a shard gone stale or over the memory budget. It runs as a child of this service, which the
// node's service group owns: at graceful shutdown no new work is taken and what runs is awaited
// (for `drainLimit` at most, then cancelled: nothing may hold a node's shutdown for ever), and an
// error is logged, never lost with a task nobody holds.

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
    /// Jobs started and not yet finished.
    private let inFlight = Atomic<Int>(0)
    private let logger: Logger
    let drainLimit: Duration

    public init(drainLimit: Duration = .seconds(10), logger: Logger) {
        self.drainLimit = drainLimit
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
        defer { state.withLock { $0 = .stopped } }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                await withGracefulShutdownHandler {
                    for await job in jobs {
                        inFlight.add(1, ordering: .relaxed)
                        group.addTask {
                            await self.perform(job)
                            self.inFlight.subtract(1, ordering: .relaxed)
                        }
                    }
                } onGracefulShutdown: {
                    self.state.withLock { $0 = .stopped }
                    continuation.finish()
                }
                // No more work comes: what runs may finish within the limit; past it, the
                // throw cancels it (a load is rolled back, a drop happens at the next start).
                group.addTask {
                    let deadline = ContinuousClock.now + self.drainLimit
                    while self.inFlight.load(ordering: .relaxed) > 0 {
                        guard ContinuousClock.now < deadline else { throw DrainLimitReached() }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
            }
        } catch is DrainLimitReached {
            logger.warning("background work cancelled at shutdown", metadata: ["limit": "\(drainLimit)"])
        } catch is CancellationError {
            return
        }
    }

    struct DrainLimitReached: Error {}

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
