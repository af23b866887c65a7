// What may enter the index: the right length, finite, with a direction.

import Testing

@testable import FaceIndex

@Suite struct EmbeddingTests {
    @Test func scalesToUnitLength() throws {
        let normalized = try Embedding.normalized([3, 4] + [Float](repeating: 0, count: 62), dimension: 64)
        #expect(normalized[0] == 0.6 && normalized[1] == 0.8)
    }

    @Test func keepsTheDirectionOfVeryLargeAndVerySmallVectors() throws {
        for magnitude: Float in [1e30, 1e-30, .leastNonzeroMagnitude] {
            let normalized = try Embedding.normalized([magnitude, magnitude] + [Float](repeating: 0, count: 62), dimension: 64)
            #expect(abs(normalized[0] - 0.70710677) < 1e-6, "\(magnitude)")
        }
    }

    @Test(arguments: [63, 65, 0])
    func refusesAnotherLength(_ length: Int) {
        #expect(throws: FaceIndexError.dimensionMismatch(expected: 64, actual: length)) {
            try Embedding.normalized([Float](repeating: 1, count: length), dimension: 64)
        }
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity, .signalingNaN])
    func refusesNonFiniteValues(_ value: Float) {
        var vector = [Float](repeating: 1, count: 64)
        vector[17] = value
        #expect(throws: FaceIndexError.nonFinite) { try Embedding.normalized(vector, dimension: 64) }
    }

    @Test func refusesTheZeroVector() {
        #expect(throws: FaceIndexError.zeroVector) {
            try Embedding.normalized([Float](repeating: 0, count: 64), dimension: 64)
        }
        #expect(throws: FaceIndexError.zeroVector) {
            try Embedding.normalized([Float](repeating: -0.0, count: 64), dimension: 64)
        }
    }
}
