// What a search returns.

import Foundation

/// One stored face and its cosine similarity to the probe.
public struct Match: Sendable, Equatable {
    public var faceID: UUID
    public var personID: String
    public var score: Float
    /// The row's position in the shard when it was searched (insertion order until a removal
    /// swaps the last row in); stable only for a shard no one writes to.
    public var row: Int
}

/// A person and their best-scoring face.
public struct PersonMatch: Sendable, Equatable {
    public var personID: String
    public var faceID: UUID
    public var score: Float

    public init(personID: String, faceID: UUID, score: Float) {
        self.personID = personID
        self.faceID = faceID
        self.score = score
    }
}

/// How a single-query search scans.
public enum SearchMode: String, Sendable, CaseIterable {
    /// int8 when the shard keeps codes and is large enough for it to pay, else fp32.
    case auto
    /// Every row in float with the SIMD kernel.
    case fp32
    /// int8 codes first, then the rows that may still be in the top k re-scored in float:
    /// the same results and scores as fp32, from a quarter of the memory traffic.
    case int8
}
