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

    /// The threshold a 1:N match needs over a gallery of `persons` (the tenant's, which may rise
    /// with the gallery), or a stricter `minScore` the request asks for.
    func searchThreshold(_ tenant: Tenant, persons: Int, minScore: Double?) -> Threshold {
        models.searchThreshold(for: tenant, persons: persons).atLeast(minScore: minScore)
    }

    /// Whether the tenant's 1:N threshold depends on how many persons it has.
    static func dependsOnGallery(_ tenant: Tenant) -> Bool {
        tenant.settings.matchThreshold == nil && tenant.settings.falsePositiveIdentificationRate != nil
    }

    /// The most persons a duplicate check names.
    static let duplicatesNamed = 5

    /// Other persons the template (unit length) matches at or above the tenant's 1:N threshold,
    /// best first; nil when the tenant does not check. Checked against the gallery as this
    /// request finds it: two enrolls of one face racing for two new persons both pass.
    func possibleDuplicates(of template: [Float], person personID: String, tenant: Tenant) async throws -> [Match]? {
        guard tenant.settings.duplicateCheck != .off else { return nil }
        let found = try await search(template, limit: Self.duplicatesNamed + 1, minScore: nil, tenant: tenant)
        return Array(found.matches.filter { $0.personID != personID }.prefix(Self.duplicatesNamed))
    }

    /// Deletes one of the tenant's faces. Another tenant's face id is the same 404 as a missing
    /// one, in the same time (the check runs for both); the attempt is recorded in the platform's
    /// trail, which operators read and tenants do not (the caller's own trail would tell it that

    /// What the tenant's own gallery says about its threshold (from its shard, loaded if it is
    /// not: no template leaves the process). Answered when ready within `wait`, else how far
    /// the job has come.
    public func calibration(of tenant: Tenant, wait: Duration = .seconds(2)) async throws -> GalleryCalibrations.Outcome {
        let (shard, _) = try await shard(for: tenant)
        let outcome = await calibrations.calibration(tenant: tenant.id, shard: shard, wait: wait) { persons in
            models.searchThreshold(for: tenant, persons: persons)
        }
        guard case .ready(var calibration) = outcome else { return outcome }
        calibration.decisions = try await decisions(of: tenant)
        return .ready(calibration)
    }
}
