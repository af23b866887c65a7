// Synthetic face embeddings with the statistics of real ones: identities as random unit
// centres, samples of one identity close to its centre, different identities nearly orthogonal.

import Foundation
import Tenancy
import TestSupport
import WireFormats

struct Embeddings {
    let dimension: Int
    var generator: SeededGenerator

    init(dimension: Int = 512, seed: UInt64 = 42) {
        self.dimension = dimension
        generator = SeededGenerator(seed: seed)
    }

    mutating func identity() -> [Float] { Self.unit(generator.vector(dimension)) }

    /// A sample of `centre`: cosine ≈ 0.7 to it.
    mutating func sample(of centre: [Float], noise: Float = 1.0) -> [Float] {
        let scale = noise / Float(dimension).squareRoot()
        return Self.unit(centre.map { $0 + generator.gaussian() * scale })
    }

    static func unit(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        return vector.map { Float(Double($0) / norm) }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            / (a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() * b.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot())
    }

    static func json(_ vector: [Float]) -> JSONValue { .array(vector.map { .number(Double($0)) }) }

    static func base64(_ vector: [Float]) -> String {
        var data = Data(capacity: vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data.base64EncodedString()
    }
}
