// One tenant's shard kept in step with the tenant's change log: the only way a change reaches a
// shard, whether this node made it or another did.

import FaceIndex
import Foundation
import Logging
import Storage

/// Where a feed reads the log and the templates of added faces, under the tenant's RLS.
struct ChangeSource: Sendable {
    /// The tenant's counter and its logged changes after a number (at most `limit`), read at one moment.
    var changes: @Sendable (_ after: Int64, _ limit: Int) async throws -> (current: Int64, changes: [FaceRepository.LoggedChange])
    /// The rotated templates of these faces; faces gone since are absent.
    var templates: @Sendable (_ faces: [UUID]) async throws -> [UUID: [Float]]
}

/// Applies changes to `shard` strictly in the order of the tenant's counter. A node's own write
/// applies at once when it is the next number; otherwise (another node's changes came first, or a
/// catch-up is running) it waits for a catch-up that reads the log. A notice only wakes the feed:
/// what it applies is what it read back, so a forged notice costs one read, and reads from
/// notices are at most one per `minimumInterval` per tenant however many arrive.
actor ShardFeed {
    nonisolated let tenant: UUID
    /// The tenant's slug, which its metrics are labelled with.
    nonisolated let label: String
    nonisolated let shard: Shard
    /// The tenant-key version the shard's rows are rotated under.
    nonisolated let keyVersion: Int
    /// The last change the shard holds.
    private(set) var applied: Int64
    /// Set once the log cannot bring the shard up to date: the cache drops it and loads afresh.
    private(set) var stale = false
    private let source: ChangeSource
    private let onStale: @Sendable (ShardFeed, String) -> Void
    private let logger: Logger
    private var running: Task<Void, Never>?
    private var again = false
    private var lastRead: ContinuousClock.Instant?
    /// The running catch-up is waiting out `interval` before its read: nothing is read or
    /// applied meanwhile, so an own write that is next may apply at once.
    private var waitingOutInterval = false
    /// At most one read of the log a notice starts per this interval.
    private let interval: Duration
    /// Own writes waiting for the read in flight to end.
    private var readWaiters: [CheckedContinuation<Void, Never>] = []

    static let minimumInterval: Duration = .milliseconds(20)
    /// Changes read at once; a shard further behind is reloaded instead. Well above a batch
    /// enroll's 1,000 changes (two batches between reads must not reload a big tenant), and
    /// below the log's 10,000.
    static let limit = 4_000

    init(
        tenant: UUID, label: String = "", shard: Shard, keyVersion: Int, applied: Int64, source: ChangeSource, logger: Logger,
        interval: Duration = ShardFeed.minimumInterval, onStale: @escaping @Sendable (ShardFeed, String) -> Void
    ) {
        self.interval = interval
        self.tenant = tenant
        self.label = label.isEmpty ? tenant.uuidString.lowercased() : label
        self.shard = shard
        self.keyVersion = keyVersion
        self.applied = applied
        self.source = source
        self.logger = logger
        self.onStale = onStale
    }

    /// A change this node committed, with its template (adds) in hand: in the shard when this
    /// returns, unless the shard went stale meanwhile (then the reload brings it).
    func own(_ change: FaceRepository.LoggedChange, template: [Float]?) async {
        while applied < change.seq, !stale {
            // Next, and no read in flight (none running, or one waiting out its interval, which
            // reads from `applied` afterwards): apply now. Waiting for that catch-up held every
            // enroll of a busy tenant up to the interval (20 ms) for nothing.
            if running == nil || waitingOutInterval, applied == change.seq - 1 {
                apply(change, template: template)
                applied = change.seq
                return
            }
            if running != nil, !waitingOutInterval {
                // A read is in flight: wait for it alone, not for the catch-ups queued after it
                // (each waits out the interval), then look again.
                await withCheckedContinuation { readWaiters.append($0) }
                continue
            }
            let before = applied
            await catchUp()
            // No progress: the log could not be read (the database went away after the commit).
            // The next notice or write brings the change; answering must not wait for it.
            if applied == before { return }
        }
    }

    /// A notice arrived (or the listener resubscribed): catch up soon, without waiting here.
    func wake() {
        if running != nil {
            again = true
        } else {
            start()
        }
    }

    /// Reads and applies the log until up to date; joins a catch-up already running.
    func catchUp() async {
        if let running {
            again = true
            await running.value
        } else {
            await start().value
        }
    }

    @discardableResult
    private func start() -> Task<Void, Never> {
        let task = Task { await self.run() }
        running = task
        return task
    }

    private func run() async {
        repeat {
            again = false
            if let lastRead, ContinuousClock.now - lastRead < interval {
                waitingOutInterval = true
                try? await Task.sleep(until: lastRead + interval)
                waitingOutInterval = false
            }
            lastRead = .now
            defer { resumeReadWaiters() }
            do {
                try await readAndApply()
            } catch is DatabaseUnavailable {
                // The database is away: what this shard holds is still right as far as it goes;
                // the next notice or own write tries again.
                logger.warning("shard catch-up waits for the database")
                break
            } catch {
                // Anything else would fail again on every wake, and changes (deletions among
                // them) would never arrive: load the shard afresh instead.
                stale = true
                onStale(self, "catch-up failed: \(type(of: error))")
                break
            }
        } while again && !stale
        running = nil
        resumeReadWaiters()
    }

    private func resumeReadWaiters() {
        let waiters = readWaiters
        readWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func readAndApply() async throws {
        let (current, changes) = try await source.changes(applied, Self.limit + 1)
        switch ChangeRules.plan(applied: applied, current: current, changes: changes, limit: Self.limit + 1) {
        case .upToDate:
            return
        case .reload(let why):
            stale = true
            onStale(self, why)
        case .apply(let changes):
            let added = changes.filter { $0.operation == .add }.compactMap(\.face)
            let templates = added.isEmpty ? [:] : try await source.templates(added)
            for change in changes where change.seq > applied {
                apply(change, template: change.face.flatMap { templates[$0] })
                applied = change.seq
            }
        }
    }

    private func apply(_ change: FaceRepository.LoggedChange, template: [Float]?) {
        switch change.operation {
        case .add:
            // A face deleted since has no template any more; its removal follows in the log.
            guard let face = change.face, let template, !shard.contains(face: face) else { return }
            do {
                try shard.add(face: face, person: change.person, embedding: template)
            } catch {
                logger.error("a logged face does not fit its shard", metadata: ["error": "\(error)"])
            }
        case .remove:
            if let face = change.face { shard.remove(face: face) }
        case .removePerson:
            shard.remove(person: change.person)
        }
    }
}
