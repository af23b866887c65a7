// In front of every scan of a shard: at most one scan a core at a time, run on threads of their
// own (a 2 ms scan never holds up the parsing and answering of other requests on the
// concurrency pool), and when scans wait, tenants take turns. A tenant alone gets every core; a tenant flooding the node waits behind
// its own scans, not in front of everyone's, and past `queuePerTenant` waiting scans its next
// search is refused at once (429 with Retry-After) instead of queueing without end. Another
// tenant's search waits at most for one scan to finish, whatever the flood.

import Foundation
import Synchronization

public final class ScanScheduler: Sendable {
    /// A tenant already has `queuePerTenant` scans waiting.
    public struct Busy: Error, Equatable {
        public let waiting: Int
    }

    public let slots: Int
    public let queuePerTenant: Int
    private let state: Mutex<State>
    private let workers: ScanWorkers

    struct State {
        var running = 0
        /// Waiting scans, per tenant, in arrival order.
        var waiting: [UUID: [CheckedContinuation<Void, Never>]] = [:]
        /// Tenants with waiting scans, in the order they take turns.
        var turns: [UUID] = []
        var next = 0
    }

    /// `slots`: scans at once (the cores, by default). `queuePerTenant`: scans one tenant may
    /// have waiting.
    public init(slots: Int = ProcessInfo.processInfo.activeProcessorCount, queuePerTenant: Int = 64) {
        self.slots = max(1, slots)
        self.queuePerTenant = max(1, queuePerTenant)
        state = Mutex(State())
        workers = ScanWorkers(count: self.slots)
    }

    /// Runs `scan` for `tenant` on a scan thread once a slot is its turn; how long it waited is
    /// given to `waited`.
    public func run<Value: Sendable>(
        tenant: UUID, waited: (Duration) -> Void = { _ in }, _ scan: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        let arrived = ContinuousClock.now
        try await acquire(tenant)
        waited(ContinuousClock.now - arrived)
        defer { release() }
        // A slot held is a worker free: slots and workers are as many.
        let outcome: Result<Value, any Error> = await withCheckedContinuation { continuation in
            workers.submit { continuation.resume(returning: Result { try scan() }) }
        }
        return try outcome.get()
    }

    /// How many scans wait now, over all tenants.
    public var waiting: Int {
        state.withLock { $0.waiting.values.reduce(0) { $0 + $1.count } }
    }

    func acquire(_ tenant: UUID) async throws {
        enum Admission { case now, queued, refused(Int) }
        // Decided and, if it must wait, queued under one lock: a release cannot slip between.
        let admission: Admission = state.withLock { state in
            if state.running < slots, state.turns.isEmpty {
                state.running += 1
                return .now
            }
            let waiting = state.waiting[tenant]?.count ?? 0
            return waiting >= queuePerTenant ? .refused(waiting) : .queued
        }
        switch admission {
        case .now:
            return
        case .refused(let waiting):
            throw Busy(waiting: waiting)
        case .queued:
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    // A slot may have come free since the first look: take it.
                    if state.running < slots, state.turns.isEmpty {
                        state.running += 1
                        return true
                    }
                    if state.waiting[tenant, default: []].isEmpty { state.turns.append(tenant) }
                    state.waiting[tenant, default: []].append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Hands the slot to the next tenant in turn, or frees it.
    func release() {
        let handedTo: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard !state.turns.isEmpty else {
                state.running -= 1
                return nil
            }
            let index = state.next % state.turns.count
            let tenant = state.turns[index]
            var queue = state.waiting[tenant] ?? []
            let first = queue.isEmpty ? nil : queue.removeFirst()
            if queue.isEmpty {
                state.waiting[tenant] = nil
                state.turns.remove(at: index)
                state.next = index
            } else {
                state.waiting[tenant] = queue
                state.next = index + 1
            }
            if first == nil { state.running -= 1 }
            return first
        }
        handedTo?.resume()
    }
}

/// Threads that run scans, a job at a time each, from one line (the scheduler decides the order
/// and never hands over more jobs than there are threads). They end with the scheduler.
final class ScanWorkers: Sendable {
    /// What the threads share; they hold this, not the workers, so the workers can go away.
    final class Line: Sendable {
        let jobs = Mutex<(pending: [@Sendable () -> Void], stopped: Bool)>(([], false))
        let signal = DispatchSemaphore(value: 0)
    }

    private let line = Line()
    private let count: Int

    init(count: Int) {
        self.count = count
        for index in 0..<count {
            let thread = Thread { [line] in
                while true {
                    line.signal.wait()
                    let (job, stopped) = line.jobs.withLock { jobs in
                        (jobs.pending.isEmpty ? nil : jobs.pending.removeFirst(), jobs.stopped)
                    }
                    if let job { job() } else if stopped { return }
                }
            }
            thread.name = "enface-scan-\(index)"
            thread.start()
        }
    }

    deinit {
        line.jobs.withLock { $0.stopped = true }
        for _ in 0..<count { line.signal.signal() }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        line.jobs.withLock { $0.pending.append(job) }
        line.signal.signal()
    }
}
