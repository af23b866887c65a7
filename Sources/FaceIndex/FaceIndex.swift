// Tenant → shard: independent shards, so work on one never waits for another.

import Foundation

/// The in-memory index of every tenant's faces, one `Shard` per tenant. The map itself is
/// locked only to find or create a shard; searches and writes then run on the shard alone.
public final class FaceIndex: Sendable {
    private let shards = Locked<[UUID: Shard]>([:])

    public init() {}

    /// The tenant's shard, if it is in memory.
    public func shard(for tenant: UUID) -> Shard? {
        shards.withLock { $0[tenant] }
    }

    /// The tenant's shard, created empty when absent. Throws when an existing shard has another
    /// dimension or options: a tenant's model is fixed.
    public func shard(for tenant: UUID, dimension: Int, options: Shard.Options = .init()) throws(FaceIndexError) -> Shard {
        try shards.withLock { shards throws(FaceIndexError) in
            if let shard = shards[tenant] {
                guard shard.dimension == dimension else {
                    throw .dimensionMismatch(expected: shard.dimension, actual: dimension)
                }
                return shard
            }
            let shard = try Shard(dimension: dimension, options: options)
            shards[tenant] = shard
            return shard
        }
    }

    /// Installs a shard built elsewhere (a full load), replacing any present.
    public func install(_ shard: Shard, for tenant: UUID) {
        let previous = shards.withLock { shards in shards.updateValue(shard, forKey: tenant) }
        _ = previous
    }

    /// Drops the tenant's shard (eviction, tenant deletion). Searches running on it finish.
    @discardableResult
    public func evict(_ tenant: UUID) -> Bool {
        let removed = shards.withLock { $0.removeValue(forKey: tenant) }
        return removed != nil
    }

    public var tenants: [UUID] { shards.withLock { Array($0.keys) } }

    /// Bytes held by every shard in memory.
    public var memoryBytes: Int {
        let all = shards.withLock { Array($0.values) }
        return all.reduce(0) { $0 + $1.memoryBytes }
    }
}
