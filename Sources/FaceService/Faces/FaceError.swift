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
    /// The tenant's key is gone (purged) or does not open with this master key.
    case tenantKeyUnavailable
}
