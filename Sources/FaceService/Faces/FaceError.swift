// Why a face use case refused: one case per answer the API gives.

public enum FaceError: Error, Equatable, Sendable {
    /// A vector of another length than the tenant's model makes.
    case dimensionMismatch(expected: Int, actual: Int)
    /// NaN, infinity, or all zeros.
    case invalidEmbedding(String)
    case personNotFound
    case faceNotFound
    case maxFacesPerPerson(Int)
    case faceQuotaExceeded(Int)
    /// The face matches other persons at or above the threshold, and the tenant refuses those
    /// (`duplicateCheck: refuse`).
    case possibleDuplicate(PossibleDuplicates)
    /// The `Idempotency-Key` was used before for another request (body, path or credential).
    case idempotencyKeyReused
    /// The tenant already has its most searches waiting for a core: retry shortly.
    case searchBusy
    /// The tenant's key is gone (purged) or does not open with this master key.
    case tenantKeyUnavailable

    // Photos
    /// The tenant's model has no in-process extractor: send embeddings.
    case modelHasNoExtractor(String)
    /// Not a JPEG or PNG, or it does not decode.
    case invalidImage(String)
    /// More pixels than this server decodes, refused from the header.
    case imageDimensionsTooLarge(width: Int, height: Int, limit: Int)
    /// Enroll needs exactly one face.
    case noFace
    case multipleFaces([FaceBox])
    /// Every engine busy and the line full: try again shortly.
    case extractorBusy
    /// The model's weights are missing on this server.
    case extractorUnavailable
}

/// Where a face is in a photo, and how sure the detector was.
public struct FaceBox: Sendable, Equatable {
    public var left: Int, top: Int, right: Int, bottom: Int
    public var detectionScore: Double

    public init(left: Int, top: Int, right: Int, bottom: Int, detectionScore: Double) {
        (self.left, self.top, self.right, self.bottom, self.detectionScore) = (left, top, right, bottom, detectionScore)
    }

    /// `[left, top, right, bottom]`, as answers carry it.
    public var edges: [Int] { [left, top, right, bottom] }
}

/// Other persons an enrolled face matched at or above the tenant's 1:N threshold.
public struct PossibleDuplicates: Sendable, Equatable {
    /// How many (at most `FaceRegistry.duplicatesNamed`).
    public var count: Int
    /// Who, best first; nil for a caller without the `search` scope.
    public var named: [Match]?
}
