// Each tenant's gallery scored against itself (`Shard.galleryScores`), as a job: one at a time
// for the whole node, on a thread of its own at a low scheduling priority (nice 10), so it never
// takes a core from the request path that the request path wants. The scores are kept while the
// shard is unchanged; the estimates are made from them at each answer, for the threshold in force.
// `enface bench calibration` measures a job's cost and what other tenants' searches feel meanwhile.

import FaceIndex
import Foundation
import Synchronization
import Tenancy

#if canImport(Glibc)
import Glibc
#endif

public final class GalleryCalibrations: Sendable {
    /// A job's state, as the answer tells it.
    public enum Outcome: Sendable {
        case ready(GalleryCalibration)
        case running(progress: Double, startedAt: Date)
    }

    struct Scores: Sendable {
        let gallery: GalleryScores
        let generation: Shard.Generation
        let computedAt: Date
    }

    final class Job: Sendable {
        let shard: Shard
        let startedAt = Date()
        /// Thousandths done.
        let progress = Atomic<Int>(0)

        init(shard: Shard) { self.shard = shard }
    }

    struct State {
        var done: [UUID: Scores] = [:]
        var running: (tenant: UUID, job: Job)?
        var queued: [(tenant: UUID, job: Job)] = []
        var waiters: [UUID: [UUID: CheckedContinuation<Void, Never>]] = [:]
    }

    /// Persons measured exactly up to this many; a random sample of this many above.
    public let sampleLimit: Int
    /// The jobs' thread's nice value (Linux keeps one per thread): 10 yields to the request path.
    public let niceness: Int32
    private let state = Mutex(State())

    public init(sampleLimit: Int = 5_000, niceness: Int32 = 10) {
        self.sampleLimit = sampleLimit
        self.niceness = niceness
    }

    /// The tenant's calibration if its shard is unchanged since the last; else a job is started
    /// (or joined) and waited for up to `wait`: a small gallery is answered at once, a big one
    /// answers how far its job has come.
    public func calibration(
        tenant: UUID, shard: Shard, wait: Duration, threshold: (Int) -> Threshold
    ) async -> Outcome {
        if let outcome = current(tenant, shard: shard, threshold: threshold) { return outcome }
        start(tenant, shard: shard)
        await waitForJob(of: tenant, upTo: wait)
        if let outcome = current(tenant, shard: shard, threshold: threshold) { return outcome }
        return state.withLock { state in
            let job = state.running?.tenant == tenant ? state.running?.job : state.queued.first { $0.tenant == tenant }?.job
            return .running(progress: Double(job?.progress.load(ordering: .relaxed) ?? 0) / 1_000, startedAt: job?.startedAt ?? Date())
        }
    }

    private func current(_ tenant: UUID, shard: Shard, threshold: (Int) -> Threshold) -> Outcome? {
        guard let scores = state.withLock({ $0.done[tenant] }), scores.generation == shard.generation else { return nil }
        let gallery = scores.gallery
        return .ready(
            GalleryCalibration(
                genuine: gallery.genuine.map(Double.init), impostor: gallery.impostor.map(Double.init),
                nearest: gallery.nearest.map { ($0.person, $0.other, Double($0.score)) }, persons: gallery.persons,
                faces: gallery.faces, exact: gallery.exact, threshold: threshold(gallery.persons), computedAt: scores.computedAt))
    }

    /// Queues a job for the tenant unless one is running or queued.
    private func start(_ tenant: UUID, shard: Shard) {
        let next = state.withLock { state -> Job? in
            guard state.running?.tenant != tenant, !state.queued.contains(where: { $0.tenant == tenant }) else { return nil }
            state.queued.append((tenant, Job(shard: shard)))
            return nextJob(&state)
        }
        if let next { run(next) }
    }

    /// The next job to run, marked running, when none is.
    private func nextJob(_ state: inout State) -> Job? {
        guard state.running == nil, !state.queued.isEmpty else { return nil }
        let next = state.queued.removeFirst()
        state.running = next
        return next.job
    }

    private func run(_ job: Job) {
        let (limit, niceness) = (sampleLimit, niceness)
        let thread = Thread { [self] in
            // Linux keeps a nice value per thread (`who` 0 is the calling thread): this one
            // yields to the request path's.
            #if canImport(Glibc)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
            #endif
            let generation = job.shard.generation
            let scores = job.shard.galleryScores(sampleLimit: limit) { done in
                job.progress.store(Int(done * 1_000), ordering: .relaxed)
                return true
            }
            finished(job, scores: scores.map { Scores(gallery: $0, generation: generation, computedAt: Date()) })
        }
        thread.name = "enface-calibration"
        thread.start()
    }

    private func finished(_ job: Job, scores: Scores?) {
        let (next, waiters) = state.withLock { state -> (Job?, [CheckedContinuation<Void, Never>]) in
            guard let tenant = state.running?.tenant else { return (nil, []) }
            state.running = nil
            if let scores { state.done[tenant] = scores }
            let waiters = state.waiters.removeValue(forKey: tenant).map { Array($0.values) } ?? []
            return (nextJob(&state), waiters)
        }
        for waiter in waiters { waiter.resume() }
        if let next { run(next) }
    }

    /// Returns when the tenant's job finishes, or after `limit`, whichever is first.
    private func waitForJob(of tenant: UUID, upTo limit: Duration) async {
        let id = UUID()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let pending = state.withLock { state -> Bool in
                guard state.running?.tenant == tenant || state.queued.contains(where: { $0.tenant == tenant }) else { return false }
                state.waiters[tenant, default: [:]][id] = continuation
                return true
            }
            guard pending else { return continuation.resume() }
            Task {
                try? await Task.sleep(for: limit)
                // Whoever removes the waiter resumes it: the job's end, or this timer.
                let timedOut = state.withLock { $0.waiters[tenant]?.removeValue(forKey: id) }
                timedOut?.resume()
            }
        }
    }

    /// Forgets a tenant's scores (its shard dropped, the tenant deleted).
    func forget(_ tenant: UUID) {
        _ = state.withLock { $0.done.removeValue(forKey: tenant) }
    }
}
