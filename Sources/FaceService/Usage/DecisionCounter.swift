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

    struct State {
        var pending: [Key: DecisionHistograms] = [:]
        /// Taken by a write that has not committed yet: still counted by readers.
        var writing: [Key: DecisionHistograms] = [:]
        /// Bumped once a write has committed and left `writing`, so a reader can tell that its
        /// two reads (memory, then database) straddled one and read again.
        var writes = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Counts one decision's best score.
    public func count(_ kind: DecisionHistograms.Kind, score: Double, tenant: UUID, now: Date = Date()) {
        let key = Key(tenant: tenant, day: UsageMeter.day(now))
        state.withLock { $0.pending[key, default: DecisionHistograms()].add(kind, score: score) }
    }

    /// Writes what is pending; on failure it is put back for the next batch.
    func flush(_ app: PostgresPool, logger: Logger) async {
        let taken = state.withLock { state -> [Key: DecisionHistograms] in
            let taken = state.pending
            state.pending = [:]
            for (key, counts) in taken { state.writing[key] = (state.writing[key] ?? DecisionHistograms()) + counts }
            return taken
        }
        for (key, counts) in taken {
            let written: Bool
            do {
                try await app.withTenant(key.tenant) { try await UsageRepository.add(counts, day: key.day, in: $0) }
                written = true
            } catch {
                logger.warning("usage: decision counts not written; will retry", metadata: ["error.type": "\(type(of: error))"])
                written = false
            }
            state.withLock { state in
                state.writing[key] = (state.writing[key] ?? DecisionHistograms()) - counts
                if state.writing[key]?.isEmpty == true { state.writing[key] = nil }
                if written {
                    state.writes += 1
                } else {
                    state.pending[key] = (state.pending[key] ?? DecisionHistograms()) + counts
                }
            }
        }
    }

    /// The tenant's histograms of the days `from`…`to`: written ones and those still in memory.
    func histograms(
        tenant: UUID, from: String, to: String, read: () async throws -> DecisionHistograms
    ) async throws -> DecisionHistograms {
        while true {
            let (inMemory, before) = state.withLock { state in
                let days = (state.pending.merging(state.writing, uniquingKeysWith: +)).filter {
                    $0.key.tenant == tenant && $0.key.day >= from && $0.key.day <= to
                }
                return (days.values.reduce(DecisionHistograms(), +), state.writes)
            }
            let written = try await read()
            if state.withLock({ $0.writes }) == before { return inMemory + written }
        }
    }
}
