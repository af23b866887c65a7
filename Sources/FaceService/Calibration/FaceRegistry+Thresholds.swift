// The thresholds a tenant's decisions take (a number, a rate read off the model's operating
// points, or the model's default), the duplicate check at enroll, and the tenant's own
// calibration, computed from its shard.

import FaceIndex
import Foundation
import Tenancy

extension FaceRegistry {
    /// The threshold a 1:1 match needs for this tenant, and where it came from.
    public func verifyThreshold(_ tenant: Tenant) -> Threshold {
        models.verifyThreshold(for: tenant)
    }

    /// The threshold a 1:N match needs over a gallery of `faces` (the tenant's, which may rise
    /// with the gallery), or a stricter `minScore` the request asks for.
    func searchThreshold(_ tenant: Tenant, faces: Int, minScore: Double?) -> Threshold {
        models.searchThreshold(for: tenant, faces: faces).atLeast(minScore: minScore)
    }

    /// Whether the tenant's 1:N threshold depends on how many faces it holds.
    static func dependsOnGallery(_ tenant: Tenant) -> Bool {
        tenant.settings.matchThreshold == nil && tenant.settings.falsePositiveIdentificationRate != nil
    }

    /// The most persons a duplicate check names.
    static let duplicatesNamed = 5

    /// Other persons the template (unit length) matches at or above the tenant's 1:N threshold;
    /// nil when the tenant does not check. Named only to a caller that may search (naming them
    /// is a 1:N answer: an enroll-only key learns how many, never who). Checked against the
    /// gallery as this request finds it: two enrolls of one face racing for two new persons
    /// both pass.
    func possibleDuplicates(of template: [Float], person personID: String, context: TenantContext) async throws -> PossibleDuplicates? {
        let tenant = context.tenant
        guard tenant.settings.duplicateCheck != .off else { return nil }
        let found = try await search(template, limit: Self.duplicatesNamed + 1, minScore: nil, tenant: tenant)
        let others = Array(found.matches.filter { $0.personID != personID }.prefix(Self.duplicatesNamed))
        return PossibleDuplicates(count: others.count, named: context.allows(.search) ? others : nil)
    }

    /// What the tenant's own gallery says about its threshold (from its shard, loaded if it is
    /// not: no template leaves the process). Answered when ready within `wait`, else how far
    /// the job has come.
    public func calibration(of tenant: Tenant, wait: Duration = .seconds(2)) async throws -> GalleryCalibrations.Outcome {
        let (shard, _) = try await shard(for: tenant)
        let outcome = await calibrations.calibration(tenant: tenant.id, shard: shard, wait: wait) { faces in
            models.searchThreshold(for: tenant, faces: faces)
        }
        guard case .ready(var calibration) = outcome else { return outcome }
        calibration.decisions = try await decisions(of: tenant)
        return .ready(calibration)
    }
}
