// Which tenants' shards are in memory: loading them (once, however many ask), their feeds, and
// the memory budget that drops the least recently used.

import FaceIndex
import Foundation
import Logging
import Synchronization

final class ShardCache: Sendable {
    let index: FaceIndex
    /// Bytes of shards kept in memory; 0 for no limit.
    let memoryBudget: Int
    private let feeds = ShardFeeds()
    private let lastUsed = Mutex<[UUID: ContinuousClock.Instant]>([:])
    /// The tenant-key version each shard in memory was rotated under, read on every search.
    private let versions = Mutex<[UUID: Int]>([:])
    private let background: BackgroundWork
    private let logger: Logger

    init(index: FaceIndex = FaceIndex(), memoryBudget: Int, background: BackgroundWork, logger: Logger) {
        self.index = index
        self.memoryBudget = memoryBudget
        self.background = background
        self.logger = logger
    }

    /// The tenant's shard rotated under key version `keyVersion`: straight from the index when in
    /// memory (searches never queue behind an actor), else loaded by `load`, one load however
    /// many ask. A shard of an older key version (the key was replaced) is dropped and loaded again.
    func shard(
        for tenant: UUID, keyVersion: Int, load: @escaping @Sendable () async throws -> ShardFeed
    ) async throws -> Shard {
        let shard: Shard
        // A shard of a newer version than the caller's (its tenant read a moment earlier) is the
        // truth; one of an older version is dropped and loaded again.
        if let loaded = index.shard(for: tenant), let version = versions.withLock({ $0[tenant] }), version >= keyVersion {
            shard = loaded
        } else {
            if isLoaded(tenant) { await drop(tenant, why: "its key changed") }
            // The version is recorded before the shard becomes visible: a search finding the
            // shard always finds its version, and never takes a fresh load for a changed key.
            let feed = try await feeds.load(tenant, into: index, load) { feed in
                self.versions.withLock { $0[tenant] = feed.keyVersion }
            }
            shard = feed.shard
        }
        if memoryBudget > 0 {
            lastUsed.withLock { $0[tenant] = .now }
            enforceBudget(keeping: tenant)
        }
        return shard
    }

    /// The shard's feed if it is in memory or on its way there (waiting for the load); nil when
    /// neither, and then a change needs no applying: the next load reads it.
    func feed(for tenant: UUID) async -> ShardFeed? {
        await feeds.loadedOrLoading(tenant)
    }

    /// The feed of a shard in memory, without waiting for a load under way.
    func loadedFeed(for tenant: UUID) async -> ShardFeed? {
        await feeds.loaded(tenant)
    }

    /// Every feed in memory.
    func allFeeds() async -> [ShardFeed] {
        await feeds.all()
    }

    func isLoaded(_ tenant: UUID) -> Bool { index.shard(for: tenant) != nil }

    /// Drops the tenant's shard, to load afresh on its next use; with `feed`, only if that feed
    /// is still the tenant's (a feed gone stale must not drop the fresh load that replaced it).
    /// With `evictedOnly`, only a feed whose shard already left the index (a load since then is kept).
    func drop(_ tenant: UUID, feed: ShardFeed? = nil, evictedOnly: Bool = false, why: String) async {
        // The version goes with the shard, inside the actor: a load that follows records its own.
        let removed = await feeds.remove(tenant, ifStill: feed, evictedOnly: evictedOnly, from: index) {
            self.versions.withLock { _ = $0.removeValue(forKey: tenant) }
        }
        guard removed else { return }
        lastUsed.withLock { _ = $0.removeValue(forKey: tenant) }
        logger.notice("shard dropped", metadata: ["tenant": "\(tenant)", "why": "\(why)"])
    }

    /// Drops the least recently used shards, never `keeping`, until the index fits the budget.
    func enforceBudget(keeping tenant: UUID) {
        guard memoryBudget > 0 else { return }
        while index.memoryBytes > memoryBudget {
            let victim = lastUsed.withLock { used in
                used.filter { $0.key != tenant && index.shard(for: $0.key) != nil }.min { $0.value < $1.value }?.key
            }
            guard let victim else { return }
            lastUsed.withLock { _ = $0.removeValue(forKey: victim) }
            // Out of the index at once (the budget is about memory); the feed follows.
            index.evict(victim)
            background.submit("drop a shard over the memory budget") {
                await self.drop(victim, evictedOnly: true, why: "memory budget")
            }
        }
    }

    /// Tenants with a feed, for tests of bookkeeping.
    var feedCount: Int { get async { await feeds.all().count } }
}

/// Loads and feeds, serialised: a writer asking for a tenant's feed either sees the load in
/// flight (and waits for it) or the finished feed, never the moment in between.
actor ShardFeeds {
    private var feeds: [UUID: ShardFeed] = [:]
    private var inFlight: [UUID: Task<ShardFeed, any Error>] = [:]

    /// The tenant's feed, loaded by `load` unless loaded or loading; `installing` runs just
    /// before a fresh shard enters the index.
    func load(
        _ tenant: UUID, into index: FaceIndex, _ load: @escaping @Sendable () async throws -> ShardFeed,
        installing: (ShardFeed) -> Void
    ) async throws -> ShardFeed {
        if let feed = feeds[tenant], index.shard(for: tenant) != nil { return feed }
        if let task = inFlight[tenant] { return try await task.value }
        let task = Task { try await load() }
        inFlight[tenant] = task
        defer { inFlight[tenant] = nil }
        let feed = try await task.value
        installing(feed)
        index.install(feed.shard, for: tenant)
        feeds[tenant] = feed
        return feed
    }

    func loadedOrLoading(_ tenant: UUID) async -> ShardFeed? {
        if let feed = feeds[tenant] { return feed }
        guard let task = inFlight[tenant] else { return nil }
        return try? await task.value
    }

    func loaded(_ tenant: UUID) -> ShardFeed? { feeds[tenant] }

    func all() -> [ShardFeed] { Array(feeds.values) }

    func remove(
        _ tenant: UUID, ifStill feed: ShardFeed?, evictedOnly: Bool, from index: FaceIndex, removing: () -> Void
    ) -> Bool {
        if let feed, feeds[tenant] !== feed { return false }
        if evictedOnly, index.shard(for: tenant) != nil { return false }
        feeds[tenant] = nil
        index.evict(tenant)
        removing()
        return true
    }
}
