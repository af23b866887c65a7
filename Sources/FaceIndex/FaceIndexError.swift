// What the face index refuses, as typed errors the layers above map to their own answers.

import Foundation

public enum FaceIndexError: Error, Equatable, Sendable {
    /// A vector of another length than the shard's dimension.
    case dimensionMismatch(expected: Int, actual: Int)
    /// A NaN or an infinity.
    case nonFinite
    /// All zeros (or so small its norm underflows): it has no direction to compare.
    case zeroVector
    /// A shard dimension outside what the index supports.
    case unsupportedDimension(Int)
    /// A face id already in the shard.
    case duplicateFace(UUID)
    /// Quantised search on a shard built without int8 codes.
    case notQuantized
}
