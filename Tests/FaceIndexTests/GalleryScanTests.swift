// A gallery scored against itself, against the obvious double-precision loops: genuine pairs
// among each person's faces, each person's best score against every other person's, and a
// random sample that estimates the same distribution within its sampling error.

import Foundation
import TestSupport
import Testing

@testable import FaceIndex

@Suite struct GalleryScanTests {
    /// `persons` identities with 1–`most` faces each, noisy samples of a random centre; the
    /// last two persons share one centre (the same human enrolled twice).
    static func gallery(persons: Int, most: Int = 3, dimension: Int = 128, seed: UInt64) -> Gallery {
        var generator = SeededGenerator(seed: seed)
        var gallery = Gallery(ids: [], persons: [], vectors: [])
        var centre: [Float] = []
        for person in 0..<persons {
            if person != persons - 1 { centre = generator.vector(dimension) }
            for _ in 0..<(1 + person % most) {
                gallery.ids.append(UUID())
                gallery.persons.append("p\(person)")
                gallery.vectors.append(centre.map { $0 + generator.gaussian() * 0.8 })
            }
        }
        return gallery
    }

    /// Each person's best score against the faces of every other person, and whose.
    static func bestOfOthers(_ gallery: Gallery) -> [String: (score: Double, other: String)] {
        var best: [String: (score: Double, other: String)] = [:]
        for a in gallery.indices {
            for b in gallery.indices where gallery.persons[a] != gallery.persons[b] {
                let score = Reference.cosine(gallery.vectors[a], gallery.vectors[b])
                if score > best[gallery.persons[a]]?.score ?? -2 { best[gallery.persons[a]] = (score, gallery.persons[b]) }
            }
        }
        return best
    }

    @Test func everyPersonIsMeasuredExactlyUpToTheLimit() throws {
        let gallery = Self.gallery(persons: 60, seed: 7)
        let scores = try #require(try gallery.shard().galleryScores(sampleLimit: 60))
        #expect(scores.exact && scores.persons == 60 && scores.faces == gallery.ids.count)
        // Genuine: every pair within a person (1, 2 or 3 faces: 0, 1 or 3 pairs).
        var genuine: [Double] = []
        for person in Set(gallery.persons) {
            let faces = gallery.indices.filter { gallery.persons[$0] == person }
            for (i, a) in faces.enumerated() { for b in faces[(i + 1)...] { genuine.append(Reference.cosine(gallery.vectors[a], gallery.vectors[b])) } }
        }
        #expect(scores.genuine.count == 20 * 0 + 20 * 1 + 20 * 3)
        for (got, want) in zip(scores.genuine.map(Double.init).sorted(), genuine.sorted()) { #expect(abs(got - want) <= 1e-5) }
        // Impostor: each person's best against all the others, and who that was.
        let reference = Self.bestOfOthers(gallery)
        #expect(scores.nearest.count == 60)
        for nearest in scores.nearest {
            let want = try #require(reference[nearest.person])
            #expect(abs(Double(nearest.score) - want.score) <= 1e-5 && nearest.other == want.other, "\(nearest)")
        }
        // The two persons with one centre are each other's nearest, far above everyone else.
        let twins = scores.nearest.filter { ["p58", "p59"].contains($0.person) }
        #expect(Set(twins.map(\.other)) == ["p58", "p59"] && twins.allSatisfy { $0.score > 0.5 })
        #expect(scores.nearest.filter { $0.score > 0.5 }.count == 2)
    }

    @Test func aSampleEstimatesTheImpostorDistributionWithinItsError() throws {
        let gallery = Self.gallery(persons: 1_500, most: 2, seed: 11)
        let shard = try gallery.shard()
        let exact = try #require(shard.galleryScores(sampleLimit: 1_500)).impostor.map(Double.init).sorted()
        let sampled = try #require(shard.galleryScores(sampleLimit: 300))
        #expect(!sampled.exact && sampled.nearest.count == 300 && sampled.persons == 1_500)
        // Dvoretzky–Kiefer–Wolfowitz: with 300 draws, the sample's distribution function is within
        // 0.1 of the true one everywhere but with probability 2·e^(−2·300·0.01) ≈ 0.5 %.
        for q in [0.1, 0.25, 0.5, 0.75, 0.9] {
            let value = exact[Int(q * Double(exact.count - 1))]
            let share = Double(sampled.impostor.count { Double($0) <= value }) / 300
            #expect(abs(share - q) <= 0.1, "at the \(q) quantile the sample has \(share)")
        }
        // The same seed draws the same sample; stopping early gives nothing.
        #expect(shard.galleryScores(sampleLimit: 300)?.nearest == sampled.nearest)
        #expect(shard.galleryScores(sampleLimit: 300) { $0 < 0.5 } == nil)
    }

    @Test func aGalleryOfOneOrNoneHasNoImpostor() throws {
        let empty = try Shard(dimension: 128)
        #expect(empty.galleryScores(sampleLimit: 10).map { ($0.persons, $0.impostor.count, $0.exact) } ?? (9, 9, false) == (0, 0, true))
        let one = try Self.gallery(persons: 3, seed: 1).shard()
        _ = one.remove(person: "p0")
        _ = one.remove(person: "p1")
        let scores = try #require(one.galleryScores(sampleLimit: 10))
        #expect(scores.persons == 1 && scores.impostor.isEmpty && scores.genuine.count == 3)
    }
}
