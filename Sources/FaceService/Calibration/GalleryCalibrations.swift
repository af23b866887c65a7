// Each tenant's gallery scored against itself (`Shard.galleryScores`), as a job: one at a time
// for the whole node, on a thread of its own at a low scheduling priority (nice 10), so it never
// runs on the request path's threads. The scores are kept (sorted, once, by the job); each answer
// makes its estimates from them for the threshold in force. A gallery that changed since is
// scored again, at most once per ten times its last job took, and answered meanwhile from the
// last scores, marked as not current: a tenant whose gallery never stops changing still gets an
// answer, and its jobs take at most a tenth of the time.
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

    /// A finished job's scores, sorted.
    struct Scores: Sendable {
        let genuine: [Double]
        let impostor: [Double]
        let nearest: [(person: String, other: String, score: Double)]
        let persons: Int
        let faces: Int
        let exact: Bool
        let generation: Shard.Generation
        let computedAt: Date
        let took: Duration

        init(_ gallery: GalleryScores, took: Duration) {
            genuine = gallery.genuine.map(Double.init).sorted()
            impostor = gallery.impostor.map(Double.init).sorted()
            nearest = gallery.nearest.map { ($0.person, $0.other, Double($0.score)) }
            persons = gallery.persons
            faces = gallery.faces
            exact = gallery.exact
            generation = gallery.generation
            computedAt = Date()
            self.took = took
        }
    }

    final class Job: Sendable {
        let shard: Shard
        /// When it was asked for.
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

        func job(of tenant: UUID) -> Job? {
            running?.tenant == tenant ? running?.job : queued.first { $0.tenant == tenant }?.job
        }
    }

    /// Persons measured exactly up to this many; a random sample of this many above.
    public let sampleLimit: Int
    /// The jobs' thread's nice value (Linux keeps one per thread): 10 yields to the request path.
    public let niceness: Int32
    /// The most tenants whose scores are kept (the least recently computed go first).
    let kept: Int
    /// A changed gallery is scored again once this many times its last job's time has passed.
    let pacing: Double
    private let state = Mutex(State())

    public init(sampleLimit: Int = 5_000, niceness: Int32 = 10, kept: Int = 256, pacing: Double = 10) {
        self.sampleLimit = sampleLimit
        self.niceness = niceness
        self.kept = max(1, kept)
        self.pacing = max(0, pacing)
    }

    /// The tenant's calibration if its shard is unchanged since the last; else a job is started
    /// (or joined) and waited for up to `wait`: a small gallery is answered at once, a big one
    /// answers with its last scores (not current) or, with none yet, how far its job has come.
    /// `threshold` gives the 1:N threshold for a gallery of so many faces.
    public func calibration(
        tenant: UUID, shard: Shard, wait: Duration, threshold: (Int) -> Threshold
    ) async -> Outcome {
        let last = state.withLock { $0.done[tenant] }
        if let last, last.generation == shard.generation { return .ready(answer(last, current: true, threshold: threshold)) }
        // Paced: a gallery that keeps changing is scored again once ten times its last job's time has passed.
        if last.map({ Date().timeIntervalSince($0.computedAt) >= pacing * $0.took.seconds }) ?? true {
            start(tenant, shard: shard)
            await waitForJob(of: tenant, upTo: wait)
        }
        return state.withLock { state in
            if let scores = state.done[tenant] {
                return .ready(answer(scores, current: scores.generation == shard.generation, threshold: threshold))
            }
            let job = state.job(of: tenant)
            return .running(progress: Double(job?.progress.load(ordering: .relaxed) ?? 0) / 1_000, startedAt: job?.startedAt ?? Date())
        }
    }

    private func answer(_ scores: Scores, current: Bool, threshold: (Int) -> Threshold) -> GalleryCalibration {
        GalleryCalibration(
            genuine: scores.genuine, impostor: scores.impostor, nearest: scores.nearest, persons: scores.persons,
            faces: scores.faces, exact: scores.exact, current: current, threshold: threshold(scores.faces),
            computedAt: scores.computedAt)
    }

    /// Queues a job for the tenant unless one is running or queued.
    private func start(_ tenant: UUID, shard: Shard) {
        let next = state.withLock { state -> Job? in
            guard state.job(of: tenant) == nil else { return nil }
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
            let started = ContinuousClock.now
            let gallery = job.shard.galleryScores(sampleLimit: limit) { done in
                job.progress.store(Int(done * 1_000), ordering: .relaxed)
                return true
            }
            finished(job, scores: gallery.map { Scores($0, took: ContinuousClock.now - started) })
        }
        thread.name = "enface-calibration"
        thread.start()
    }

    private func finished(_ job: Job, scores: Scores?) {
        let (next, waiters) = state.withLock { state -> (Job?, [CheckedContinuation<Void, Never>]) in
            guard let tenant = state.running?.tenant else { return (nil, []) }
            state.running = nil
            if let scores {
                state.done[tenant] = scores
                if state.done.count > kept, let oldest = state.done.min(by: { $0.value.computedAt < $1.value.computedAt })?.key {
                    state.done[oldest] = nil
                }
            }
            let waiters = state.waiters.removeValue(forKey: tenant).map { Array($0.values) } ?? []
            return (nextJob(&state), waiters)
        }
        for waiter in waiters { waiter.resume() }
        if let next { run(next) }
    }

    /// The tenants whose scores are kept.
    var keptTenants: Set<UUID> { state.withLock { Set($0.done.keys) } }

    /// Returns when the tenant's job finishes, or after `limit`, whichever is first.
    private func waitForJob(of tenant: UUID, upTo limit: Duration) async {
        let id = UUID()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let pending = state.withLock { state -> Bool in
                guard state.job(of: tenant) != nil else { return false }
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
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
