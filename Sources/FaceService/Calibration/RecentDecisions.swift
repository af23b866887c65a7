// A tenant's recent decisions (the best score of each verify and search, in fixed bins), for
// its calibration and for a settings change tried before it is made (`?dryRun=true`).

import FaceIndex
import Foundation
import Storage
import Tenancy

extension FaceRegistry {
    /// How many days back (today included) the decisions are read.
    public static let decisionDays = 7

    /// The first and last UTC day of the window ending today.
    static func decisionWindow(now: Date = Date()) -> (from: String, to: String) {
        (UsageMeter.day(now.addingTimeInterval(-Double(decisionDays - 1) * 86_400)), UsageMeter.day(now))
    }

    /// The tenant's decisions of the last days, at its thresholds now.
    public func decisions(of tenant: Tenant) async throws -> DecisionReport {
        let (from, to) = Self.decisionWindow()
        let histograms = try await usage.decisions(tenant: tenant.id, from: from, to: to)
        let faces = try await galleryFaces(tenant, ifNeededBy: [tenant])
        return DecisionReport(
            histograms, from: from, to: to, verify: verifyThreshold(tenant), search: searchThreshold(tenant, faces: faces, minScore: nil))
    }

    /// What `after`'s settings would have done to `before`'s decisions of the last days.
    public func effect(from before: Tenant, to after: Tenant) async throws -> ThresholdEffect {
        let (from, to) = Self.decisionWindow()
        let histograms = try await usage.decisions(tenant: before.id, from: from, to: to)
        let faces = try await galleryFaces(before, ifNeededBy: [before, after])
        return ThresholdEffect(
            histograms, from: from, to: to, verify: (verifyThreshold(before), verifyThreshold(after)),
            search: (
                searchThreshold(before, faces: faces, minScore: nil), searchThreshold(after, faces: faces, minScore: nil)
            ))
    }

    /// The faces the tenant holds, when one of `tenants`' 1:N thresholds depends on it (its shard's
    /// count in memory, else the database's); 1 otherwise.
    func galleryFaces(_ tenant: Tenant, ifNeededBy tenants: [Tenant]) async throws -> Int {
        guard tenants.contains(where: Self.dependsOnGallery) else { return 1 }
        if let feed = await shards.loadedFeed(for: tenant.id) { return feed.shard.count }
        return try await app.withTenant(tenant.id) { try await FaceRepository.faceCount(in: $0) }
    }
}
