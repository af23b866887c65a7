// Keys and tenants as this node last read them, so that a search of a tenant in memory needs no
// database round trip at all, and keeps answering while the database is away.

import Foundation
import PostgresNIO
import Storage
import Synchronization
import Tenancy

/// Entries are trusted for `freshFor` after they were read; a change notice about their tenant
/// (a key revoked, the tenant suspended, its settings changed) forgets them at once, on every
/// node, and a listener that lost its connection (notices may have been missed) makes every
/// entry be read again before it is trusted. While the database cannot be reached, an entry up
/// to `staleLimit` old still answers: a revocation cannot commit while the database is away
/// either, except on a database this node cannot reach (a partition), which is what the limit
/// bounds.
public final class CredentialCache: Sendable {
    struct Entry<Value: Sendable>: Sendable {
        var value: Value
        var fetched: ContinuousClock.Instant
        /// False once notices may have been missed: read again before use, unless the database is away.
        var trusted = true
        /// False for a value read while an invalidation happened: it may be what was invalidated,
        /// so it is never served, not even while the database is away.
        var current = true
    }

    private let keys = Mutex<[[UInt8]: Entry<APIKeyRepository.Lookup>]>([:])
    private let tenants = Mutex<[UUID: Entry<Tenant>]>([:])
    private let slugs = Mutex<[String: Entry<UUID>]>([:])
    private let notices: ChangeNotices
    /// Counts invalidations: a read that began before one is stored untrusted, since it may have
    /// read what the invalidation was about (a key revoked while it was being looked up).
    private let invalidations = Atomic<UInt64>(0)
    let freshFor: Duration
    let staleLimit: Duration
    let capacity: Int

    public init(notices: ChangeNotices, freshFor: Duration = .seconds(60), staleLimit: Duration = .seconds(300), capacity: Int = 100_000) {
        self.notices = notices
        self.freshFor = freshFor
        self.staleLimit = staleLimit
        self.capacity = capacity
    }

    /// The key with this hash: cached, or read by `fetch` (a key nobody holds is not cached:
    /// random keys would only fill the cache).
    func key(_ hash: [UInt8], fetch: () async throws -> APIKeyRepository.Lookup?) async throws -> APIKeyRepository.Lookup? {
        try await cached(hash, in: keys, fetch: fetch) { $0.tenantID }
    }

    /// The key with this hash if it is cached and trusted, without reading anything.
    func cachedKey(_ hash: [UInt8]) -> APIKeyRepository.Lookup? {
        keys.withLock { keys in
            guard let entry = keys[hash], entry.trusted, ContinuousClock.now - entry.fetched < freshFor else { return nil }
            return entry.value
        }
    }

    func tenant(_ id: UUID, fetch: () async throws -> Tenant?) async throws -> Tenant? {
        try await cached(id, in: tenants, fetch: fetch) { $0.id }
    }

    func tenantID(slug: String, fetch: () async throws -> UUID?) async throws -> UUID? {
        try await cached(slug, in: slugs, fetch: fetch) { $0 }
    }

    private func cached<Key: Hashable & Sendable, Value: Sendable>(
        _ key: Key, in map: borrowing Mutex<[Key: Entry<Value>]>, fetch: () async throws -> Value?, tenant: (Value) -> UUID
    ) async throws -> Value? {
        let now = ContinuousClock.now
        let entry = map.withLock { $0[key] }
        if let entry, entry.trusted, now - entry.fetched < freshFor { return entry.value }
        let generation = invalidations.load(ordering: .acquiring)
        let value: Value?
        do {
            value = try await fetch()
        } catch let error as DatabaseUnavailable {
            if let entry, entry.current, now - entry.fetched < staleLimit { return entry.value }
            throw error
        }
        guard let value else {
            map.withLock { _ = $0.removeValue(forKey: key) }
            return nil
        }
        notices.remember(tenant(value))
        map.withLock { map in
            // Checked under the map's lock: an invalidation either came before (this entry is
            // stored as not current) or its filter of this map comes after (and removes it).
            let current = invalidations.load(ordering: .acquiring) == generation
            if map.count >= capacity, map[key] == nil { Self.forgetOldest(&map) }
            map[key] = Entry(value: value, fetched: now, trusted: current, current: current)
        }
        return value
    }

    /// Drops the older half: a full cache is refilled from the database as it is used.
    private static func forgetOldest<Key, Value>(_ map: inout [Key: Entry<Value>]) {
        let cut = map.values.map(\.fetched).sorted()[map.count / 2]
        map = map.filter { $0.value.fetched >= cut }
    }

    /// Entries held now, for tests of bookkeeping.
    var count: Int { keys.withLock { $0.count } + tenants.withLock { $0.count } + slugs.withLock { $0.count } }
}

extension CredentialCache: ChangeSubscriber {
    public func tenantChanged(_ tenant: UUID?, kind: ChangeNotices.Kind) async {
        guard kind == .tenant else { return }
        // Even for a tenant not met yet: a read of its key may be in flight.
        invalidations.add(1, ordering: .releasing)
        guard let tenant else { return }
        keys.withLock { $0 = $0.filter { $0.value.value.tenantID != tenant } }
        tenants.withLock { _ = $0.removeValue(forKey: tenant) }
        slugs.withLock { $0 = $0.filter { $0.value.value != tenant } }
    }

    public func resubscribed() async {
        invalidations.add(1, ordering: .releasing)
        keys.withLock { map in for key in map.keys { map[key]?.trusted = false } }
        tenants.withLock { map in for key in map.keys { map[key]?.trusted = false } }
        slugs.withLock { map in for key in map.keys { map[key]?.trusted = false } }
    }
}
