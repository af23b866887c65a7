// The answers the index must give, computed the slow and obvious way, in double.

import Foundation
import TestSupport

@testable import FaceIndex

struct Gallery {
    var ids: [UUID]
    var persons: [String]
    var vectors: [[Float]]

    static func random(count: Int, dimension: Int, personsEvery: Int = 1, seed: UInt64) -> Gallery {
        var generator = SeededGenerator(seed: seed)
        let vectors = (0..<count).map { _ in generator.vector(dimension) }
        return Gallery(
            ids: (0..<count).map { _ in UUID() }, persons: (0..<count).map { "person-\($0 / personsEvery)" },
            vectors: vectors)
    }

    var faces: [Shard.Face] {
        indices.map { Shard.Face(id: ids[$0], person: persons[$0], embedding: vectors[$0]) }
    }

    var indices: Range<Int> { ids.indices }

    func shard(_ options: Shard.Options = .init()) throws -> Shard {
        let shard = try Shard(dimension: vectors.first?.count ?? 128, options: options)
        try shard.add(contentsOf: faces)
        return shard
    }
}

enum Reference {
    static func normalized(_ vector: [Float]) -> [Double] {
        let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return vector.map { Double($0) / norm }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        zip(normalized(a), normalized(b)).reduce(0.0) { $0 + $1.0 * $1.1 }
    }

    /// Indices of the k best rows, best first; ties to the lower index.
    static func topK(_ gallery: Gallery, query: [Float], k: Int, minimum: Double = -.infinity) -> [(index: Int, score: Double)] {
        var scored: [(index: Int, score: Double)] = []
        for index in gallery.indices {
            let score = cosine(gallery.vectors[index], query)
            if score >= minimum { scored.append((index, score)) }
        }
        scored.sort { (a: (index: Int, score: Double), b: (index: Int, score: Double)) -> Bool in
            a.score > b.score || (a.score == b.score && a.index < b.index)
        }
        return Array(scored.prefix(k))
    }

    /// The k best persons by their best face.
    static func topPersons(_ gallery: Gallery, query: [Float], k: Int) -> [(person: String, score: Double)] {
        var best: [String: Double] = [:]
        for index in gallery.indices {
            let score = cosine(gallery.vectors[index], query)
            best[gallery.persons[index]] = max(best[gallery.persons[index]] ?? -.infinity, score)
        }
        var ranked: [(person: String, score: Double)] = best.map { ($0.key, $0.value) }
        ranked.sort { (a: (person: String, score: Double), b: (person: String, score: Double)) -> Bool in
            a.score > b.score || (a.score == b.score && a.person < b.person)
        }
        return Array(ranked.prefix(k))
    }
}
