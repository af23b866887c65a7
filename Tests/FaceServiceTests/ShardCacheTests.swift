// The shard cache alone (pure logic over an in-memory index): one load however many ask, a new
// load for a new key version, and a memory budget that drops the least recently used shard.

import FaceIndex
@testable import FaceService
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

struct ShardCacheTests {
    /// A loader counting its loads; each load is a shard of `rows` faces under `keyVersion`,
    /// and waits at `gate` until the test opens it (closed: the gate is open from the start).
    final class Loader: Sendable {
        let loads = Atomic<Int>(0)
        let rows: Int
        let gate: AsyncStream<Void>?

        init(rows: Int = 0, gate: AsyncStream<Void>? = nil) {
            self.rows = rows
            self.gate = gate
        }

        func load(_ tenant: UUID, keyVersion: Int = 1) -> @Sendable () async throws -> ShardFeed {
            { [rows, gate] in
                self.loads.add(1, ordering: .relaxed)
                if let gate { for await _ in gate {} }
                let shard = try Shard(dimension: 64)
                for row in 0..<rows {
                    try shard.add(face: UUID(), person: "p\(row)", embedding: (0..<64).map { Float(($0 + row) % 7) + 1 })
                }
                return ShardFeed(
                    tenant: tenant, shard: shard, keyVersion: keyVersion, applied: 0, source: MemoryLog().source,
                    logger: TestEnvironment.logger) { _, _ in }
            }
        }
    }

    static func cache(budget: Int = 0) -> ShardCache {
        ShardCache(memoryBudget: budget, background: BackgroundWork(logger: TestEnvironment.logger), logger: TestEnvironment.logger)
    }

    @Test func manyAskingAtOnceShareOneLoad() async throws {
        let cache = Self.cache()
        let (gate, open) = AsyncStream<Void>.makeStream()
        let loader = Loader(gate: gate)
        let tenant = UUID()
        let shards = try await withThrowingTaskGroup(of: ObjectIdentifier.self) { group in
            // However this ends, the load is let go: a failed poll must not leave the group
            // waiting for ever on a load nobody releases.
            defer { open.finish() }
            // Half ask while the load is held, half as it finishes and after.
            for _ in 0..<8 { group.addTask { ObjectIdentifier(try await cache.shard(for: tenant, keyVersion: 1, load: loader.load(tenant))) } }
            // A generous deadline: the suite runs beside CPU-heavy ones on a 2-core machine.
            try await poll(timeout: .seconds(60), "the load to start") { loader.loads.load(ordering: .relaxed) == 1 ? true : nil }
            open.finish()
            for _ in 0..<8 { group.addTask { ObjectIdentifier(try await cache.shard(for: tenant, keyVersion: 1, load: loader.load(tenant))) } }
            return try await group.reduce(into: Set()) { $0.insert($1) }
        }
        #expect(loader.loads.load(ordering: .relaxed) == 1)
        #expect(shards.count == 1)
    }

    @Test func aNewKeyVersionLoadsTheShardAgain() async throws {
        let cache = Self.cache()
        let loader = Loader()
        let tenant = UUID()
        let first = try await cache.shard(for: tenant, keyVersion: 1, load: loader.load(tenant, keyVersion: 1))
        let second = try await cache.shard(for: tenant, keyVersion: 2, load: loader.load(tenant, keyVersion: 2))
        #expect(loader.loads.load(ordering: .relaxed) == 2)
        #expect(first !== second)
    }

    @Test func aCallerWithAnOlderKeyVersionGetsTheNewerShardWithoutAReload() async throws {
        let cache = Self.cache()
        let loader = Loader()
        let tenant = UUID()
        let newer = try await cache.shard(for: tenant, keyVersion: 3, load: loader.load(tenant, keyVersion: 3))
        // A request whose tenant was read just before the key changed.
        let asked = try await cache.shard(for: tenant, keyVersion: 2, load: loader.load(tenant, keyVersion: 2))
        #expect(asked === newer)
        #expect(loader.loads.load(ordering: .relaxed) == 1)
    }

    @Test func aFailedLoadIsNotKeptAndTheNextAskTriesAgain() async throws {
        let cache = Self.cache()
        let tenant = UUID()
        await #expect(throws: CancellationError.self) {
            _ = try await cache.shard(for: tenant, keyVersion: 1) { throw CancellationError() }
        }
        #expect(!cache.isLoaded(tenant))
        let loader = Loader()
        _ = try await cache.shard(for: tenant, keyVersion: 1, load: loader.load(tenant))
        #expect(cache.isLoaded(tenant))
    }

    @Test func overTheBudgetTheLeastRecentlyUsedShardGoesNeverTheOneAskedFor() async throws {
        let loader = Loader(rows: 200)
        let (a, b, c) = (UUID(), UUID(), UUID())
        // Measure one shard, then allow two and a half.
        let probe = Self.cache()
        let measured = UUID()
        let one = try await probe.shard(for: measured, keyVersion: 1, load: loader.load(measured)).memoryBytes
        let cache = Self.cache(budget: one * 5 / 2)
        _ = try await cache.shard(for: a, keyVersion: 1, load: loader.load(a))
        _ = try await cache.shard(for: b, keyVersion: 1, load: loader.load(b))
        _ = try await cache.shard(for: a, keyVersion: 1, load: loader.load(a))  // a is used after b
        _ = try await cache.shard(for: c, keyVersion: 1, load: loader.load(c))
        #expect(cache.isLoaded(a) && cache.isLoaded(c))
        #expect(!cache.isLoaded(b))
        #expect(cache.index.memoryBytes <= one * 5 / 2)
        // A budget smaller than one shard still keeps the one asked for.
        let tight = Self.cache(budget: one / 2)
        _ = try await tight.shard(for: a, keyVersion: 1, load: loader.load(a))
        #expect(tight.isLoaded(a))
    }
}
