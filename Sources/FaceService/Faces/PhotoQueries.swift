// 1:1 and 1:N from a photo: every face in it is asked, not only the largest, and the answer
// names each face's box beside its result. The rules for photos live here, once, for every caller.

import Foundation
import Tenancy

extension FaceRegistry {
    /// One face of a photo and the verdict on it.
    public struct FaceVerification: Sendable, Equatable {
        public var box: FaceBox
        public var verification: Verification
    }

    /// One face of a photo and the persons it matched.
    public struct FaceSearch: Sendable, Equatable {
        public var box: FaceBox
        public var matches: [Match]
    }

    /// Every face of a photo verified against the person: the best-scoring first (the verdict
    /// on the photo), then the others in the photo's order.
    public func verify(
        person personID: String, faces: [FacePhotos.Face], context: TenantContext
    ) async throws -> (best: FaceVerification, each: [FaceVerification]) {
        var each: [FaceVerification] = []
        for face in faces {
            each.append(FaceVerification(box: face.box, verification: try await verify(person: personID, embedding: face.embedding, context: context)))
        }
        guard let best = each.max(by: { $0.verification.score < $1.verification.score }) else { throw FaceError.noFace }
        return (best, each)
    }

    /// Every face of a photo searched, each with its own matches, and the threshold they met.
    public func search(
        faces: [FacePhotos.Face], limit: Int, minScore: Double?, context: TenantContext
    ) async throws -> (each: [FaceSearch], threshold: Threshold) {
        var each: [FaceSearch] = []
        var threshold: Threshold?
        for face in faces {
            let found = try await search(embedding: face.embedding, limit: limit, minScore: minScore, context: context)
            threshold = found.threshold
            each.append(FaceSearch(box: face.box, matches: found.matches))
        }
        guard let threshold else { throw FaceError.noFace }
        return (each, threshold)
    }
}
