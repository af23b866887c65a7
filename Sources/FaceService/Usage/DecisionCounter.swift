// The best score of every verify and search, counted in memory per tenant and day and written
// with the usage meter's batches (`usage.verify_scores`, `usage.search_scores`): counts only.

import Foundation
import Logging
import Storage
import Synchronization
import Tenancy

public final class DecisionCounter: Sendable {
    struct Key: Hashable {
        var tenant: UUID
        var day: String
    }

    /// Counted here, not yet written.
    private let pending = Mutex<[Key: DecisionHistograms]>([:])
    /// A tenant's write and a tenant's read take turns: a read sees each count once, either
    /// still pending or already written, never both and never neither.
    private let turns = KeyedAsyncLock<UUID>()

    public init() {}

    /// Counts one decision's best score.
    public func count(_ kind: DecisionHistograms.Kind, score: Double, tenant: UUID, now: Date = Date()) {
        let key = Key(tenant: tenant, day: UsageMeter.day(now))
        pending.withLock { $0[key, default: DecisionHistograms()].add(kind, score: score) }
    }

    /// Writes what is pending, tenant by tenant; what fails to be written stays pending.
    func flush(_ app: PostgresPool, logger: Logger) async {
        let tenants = Set(pending.withLock { $0.keys.map(\.tenant) })
        for tenant in tenants {
            await turns.withLock(tenant) {
                let taken = pending.withLock { pending in
                    let taken = pending.filter { $0.key.tenant == tenant }
                    for key in taken.keys { pending[key] = nil }
                    return taken
                }
                for (key, counts) in taken {
                    do {
                        try await app.withTenant(tenant) { try await UsageRepository.add(counts, day: key.day, in: $0) }
                    } catch {
                        logger.warning("usage: decision counts not written; will retry", metadata: ["error.type": "\(type(of: error))"])
                        pending.withLock { $0[key] = ($0[key] ?? DecisionHistograms()) + counts }
                    }
                }
            }
        }
    }

    /// The tenant's histograms of the days `from`…`to`: those in memory and those `read` from
    /// the database, in the tenant's turn.
    func histograms(
        tenant: UUID, from: String, to: String, read: @Sendable () async throws -> DecisionHistograms
    ) async throws -> DecisionHistograms {
        try await turns.withLock(tenant) {
            let inMemory = pending.withLock { pending in
                pending.filter { $0.key.tenant == tenant && $0.key.day >= from && $0.key.day <= to }.values
                    .reduce(DecisionHistograms(), +)
            }
            return inMemory + (try await read())
        }
    }
}

/// One holder at a time per key; the others wait their turn, in order, without holding a thread.
final class KeyedAsyncLock<Key: Hashable & Sendable>: Sendable {
    private struct Entry {
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Held keys, each with who waits for it.
    private let held = Mutex<[Key: Entry]>([:])

    func withLock<Result: Sendable>(_ key: Key, _ body: () async throws -> Result) async rethrows -> Result {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    private func acquire(_ key: Key) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = held.withLock { held -> Bool in
                guard held[key] != nil else {
                    held[key] = Entry()
                    return true
                }
                held[key]?.waiters.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    /// Hands the key to the first waiter, or frees it.
    private func release(_ key: Key) {
        let next = held.withLock { held -> CheckedContinuation<Void, Never>? in
            guard var entry = held[key], !entry.waiters.isEmpty else {
                held[key] = nil
                return nil
            }
            let next = entry.waiters.removeFirst()
            held[key] = entry
            return next
        }
        next?.resume()
    }
}
