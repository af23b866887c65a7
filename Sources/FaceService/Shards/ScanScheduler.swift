// In front of every scan of a shard: at most one scan a core at a time, run on threads of their
// own (a 2 ms scan never holds up the parsing and answering of other requests on the
// concurrency pool), and when scans wait, tenants take turns. While other tenants are searching
// (a scan in the last `sharingWindow`, or one waiting), one tenant runs at most all slots but
// one, and its scans spread over as many cores, so a slot and a core are always left for the
// others; alone, it takes them all. A tenant flooding the node waits behind its own scans, not in front of
// everyone's, and past `queuePerTenant` waiting scans its next search is refused at once (429
// with Retry-After) instead of queueing without end.

import Foundation
import Synchronization

public final class ScanScheduler: Sendable {
    /// A tenant already has `queuePerTenant` scans waiting.
    public struct Busy: Error, Equatable {
        public let waiting: Int
    }

    public let slots: Int
    public let queuePerTenant: Int
    /// The most slots one tenant holds at once while others search: all but one, when there are
    /// two or more.
    public let slotsPerTenant: Int
    /// Another tenant that scanned this recently counts as searching.
    public let sharingWindow: Duration
    private let state: Mutex<State>
    private let workers: ScanWorkers

    struct State {
        var running = 0
        /// Slots held, per tenant.
        var holding: [UUID: Int] = [:]
        /// Waiting scans, per tenant, in arrival order.
        var waiting: [UUID: [CheckedContinuation<Int, Never>]] = [:]
        /// Tenants with waiting scans, in the order they take turns.
        var turns: [UUID] = []
        var next = 0
        /// When each tenant last took a slot (entries past the window are pruned as it grows).
        var lastScan: [UUID: ContinuousClock.Instant] = [:]
    }

    /// `slots`: scans at once (the cores, by default). `queuePerTenant`: scans one tenant may
    /// have waiting.
    public init(
        slots: Int = ProcessInfo.processInfo.activeProcessorCount, queuePerTenant: Int = 64, sharingWindow: Duration = .milliseconds(100)
    ) {
        self.sharingWindow = sharingWindow
        self.slots = max(1, slots)
        self.queuePerTenant = max(1, queuePerTenant)
        slotsPerTenant = max(1, self.slots - 1)
        state = Mutex(State())
        workers = ScanWorkers(count: self.slots)
    }

    /// Runs `scan` for `tenant` on a scan thread once a slot is its turn; how long it waited is
    /// given to `waited`. `scan` is told how many cores it may spread over: all of them while
    /// the tenant is alone, else as many as its slots (one core left to the others, as a slot is:
    /// a big shard's scan would otherwise take every core by itself, its slot notwithstanding).
    public func run<Value: Sendable>(
        tenant: UUID, waited: (Duration) -> Void = { _ in }, _ scan: @escaping @Sendable (_ cores: Int) throws -> Value
    ) async throws -> Value {
        let arrived = ContinuousClock.now
        let cores = try await acquire(tenant)
        waited(ContinuousClock.now - arrived)
        defer { release(tenant) }
        // A slot held is a worker free: slots and workers are as many.
        let outcome: Result<Value, any Error> = await withCheckedContinuation { continuation in
            workers.submit { continuation.resume(returning: Result { try scan(cores) }) }
        }
        return try outcome.get()
    }

    /// How many scans wait now, over all tenants.
    public var waiting: Int {
        state.withLock { $0.waiting.values.reduce(0) { $0 + $1.count } }
    }

    /// Takes a slot for `tenant` if one is free and the tenant holds fewer than its most, and
    /// returns that most (the cores its scan may spread over). A waiter that could take a free
    /// slot never exists (a release hands it over at once), so one arriving does not jump a queue.
    private func takeSlot(_ state: inout State, for tenant: UUID) -> Int? {
        let limit = cap(state, for: tenant)
        guard state.running < slots, state.holding[tenant, default: 0] < limit, state.waiting[tenant]?.isEmpty ?? true
        else { return nil }
        hold(&state, for: tenant)
        return limit
    }

    /// The most slots `tenant` may hold now: all of them unless another tenant is searching.
    private func cap(_ state: State, for tenant: UUID) -> Int {
        let now = ContinuousClock.now
        let shared = state.turns.contains { $0 != tenant }
            || state.lastScan.contains { $0.key != tenant && now - $0.value < sharingWindow }
        return shared ? slotsPerTenant : slots
    }

    private func hold(_ state: inout State, for tenant: UUID) {
        state.running += 1
        state.holding[tenant, default: 0] += 1
        let now = ContinuousClock.now
        state.lastScan[tenant] = now
        if state.lastScan.count > 256 {
            state.lastScan = state.lastScan.filter { now - $0.value < sharingWindow }
        }
    }

    /// Waits for a slot for `tenant`; returns how many cores its scan may spread over (its most
    /// slots when it got the one it holds).
    @discardableResult
    func acquire(_ tenant: UUID) async throws -> Int {
        enum Admission { case now(Int), queued, refused(Int) }
        // Decided and, if it must wait, queued under one lock: a release cannot slip between.
        let admission: Admission = state.withLock { state in
            if let cores = takeSlot(&state, for: tenant) { return .now(cores) }
            let waiting = state.waiting[tenant]?.count ?? 0
            return waiting >= queuePerTenant ? .refused(waiting) : .queued
        }
        switch admission {
        case .now(let cores):
            return cores
        case .refused(let waiting):
            throw Busy(waiting: waiting)
        case .queued:
            return await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
                let resumeNow = state.withLock { state -> Int? in
                    // A slot may have come free since the first look: take it.
                    if let cores = takeSlot(&state, for: tenant) { return cores }
                    if state.waiting[tenant, default: []].isEmpty { state.turns.append(tenant) }
                    state.waiting[tenant, default: []].append(continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        }
    }

    /// Frees `tenant`'s slot and hands it to the next tenant in turn that may take one.
    func release(_ tenant: UUID) {
        let handedTo: (CheckedContinuation<Int, Never>, Int)? = state.withLock { state in
            state.running -= 1
            let held = state.holding[tenant, default: 1] - 1
            state.holding[tenant] = held > 0 ? held : nil
            guard !state.turns.isEmpty else { return nil }
            for step in 0..<state.turns.count {
                let index = (state.next + step) % state.turns.count
                let next = state.turns[index]
                let limit = cap(state, for: next)
                guard state.holding[next, default: 0] < limit, var queue = state.waiting[next], !queue.isEmpty
                else { continue }
                let first = queue.removeFirst()
                if queue.isEmpty {
                    state.waiting[next] = nil
                    state.turns.remove(at: index)
                    state.next = index
                } else {
                    state.waiting[next] = queue
                    state.next = index + 1
                }
                hold(&state, for: next)
                return (first, limit)
            }
            return nil
        }
        if let (waiter, cores) = handedTo { waiter.resume(returning: cores) }
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
