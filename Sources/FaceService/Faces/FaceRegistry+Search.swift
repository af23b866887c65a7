// 1:N: a client's search and an enroll's duplicate check share one scan, in the tenant's shard
// or, while it loads, in pgvector; only the client's is counted (usage, metrics, decisions).

import FaceIndex
import Foundation
import Storage
import TemplateProtection
import Tenancy

extension FaceRegistry {
    /// 1:N: the best face of each of the `limit` most similar persons at or above the threshold
    /// in force (the tenant's, or a stricter `minScore`).
    public func search(
        embedding: [Float], limit: Int, minScore: Double?, context: TenantContext
    ) async throws -> (matches: [Match], threshold: Threshold, source: Source) {
        let tenant = context.tenant
        let probe = try probe(embedding, tenant: tenant)
        let found = try await search(probe, limit: limit, minScore: minScore, tenant: tenant)
        // Counted once answered: a search refused as busy (429) did no work.
        usage.count(UsageCounts(searches: 1), tenant: tenant.id)
        metrics.searched(found.source, mode: found.mode, scan: found.scan)
        // The best score whether it matched or not: what a threshold decided between.
        if let best = found.best { usage.decisions.count(.search, score: Double(best), tenant: tenant.id) }
        return (found.matches, found.threshold, found.source)
    }

    /// A 1:N search's outcome, and how it ran.
    struct Found {
        /// The persons at or above the threshold, best first.
        var matches: [Match]
        var threshold: Threshold
        var source: Source
        /// The best score of all, matched or not (nil for an empty gallery).
        var best: Float?
        var mode: String
        var scan: Duration
    }

    /// 1:N for a probe already checked and of unit length (a client's search, or an enroll's
    /// duplicate check: only the first is counted as a search).
    func search(_ probe: [Float], limit: Int, minScore: Double?, tenant: Tenant) async throws -> Found {
        if let rotation = try await loader.coldRotation(tenant) {
            let started = ContinuousClock.now
            var threshold = searchThreshold(tenant, faces: 1, minScore: minScore)
            let found = try await app.withTenant(tenant.id) { transaction in
                if Self.dependsOnGallery(tenant) {
                    let faces = try await FaceRepository.faceCount(in: transaction)
                    threshold = searchThreshold(tenant, faces: faces, minScore: minScore)
                }
                return try await FaceRepository.searchPersons(
                    rotatedProbe: rotation.apply(probe), minScore: -1, limit: limit, in: transaction)
            }
            let matches = found.filter { $0.score >= threshold.value }.map { Match(personID: $0.person, faceID: $0.face, score: Float($0.score)) }
            return Found(
                matches: matches, threshold: threshold, source: .database, best: found.first.map { Float($0.score) },
                mode: FaceMetrics.pgvector, scan: ContinuousClock.now - started)
        }
        let (shard, rotation) = try await shard(for: tenant)
        // The count a search's own snapshot has: no lock a writer holds.
        let threshold = searchThreshold(tenant, faces: Self.dependsOnGallery(tenant) ? shard.count : 1, minScore: minScore)
        let rotated = rotation.apply(probe)
        let (ranked, scan): ([PersonMatch], Duration)
        do {
            (ranked, scan) = try await scheduler.run(tenant: tenant.id, waited: metrics.scanWaited) { cores in
                let started = ContinuousClock.now
                return (try shard.searchPersons(rotated, k: limit, cores: cores), ContinuousClock.now - started)
            }
        } catch is ScanScheduler.Busy {
            metrics.scanRefused(tenant: tenant.slug)
            throw FaceError.searchBusy
        }
        let matches = ranked.filter { Double($0.score) >= threshold.value }.map { Match(personID: $0.personID, faceID: $0.faceID, score: $0.score) }
        return Found(
            matches: matches, threshold: threshold, source: .memory, best: ranked.first?.score,
            mode: shard.resolvedMode(.auto).rawValue, scan: scan)
    }
}
