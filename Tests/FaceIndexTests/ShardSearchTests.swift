// Every search path against the double-precision reference: same faces (ties to the lower
// row), scores within 1e-5; and the paths against each other.

import Foundation
import TestSupport
import Testing

@testable import FaceIndex

@Suite struct ShardSearchTests {
    func expectMatchesReference(
        _ matches: [Match], _ expected: [(index: Int, score: Double)], _ gallery: Gallery,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(matches.map(\.faceID) == expected.map { gallery.ids[$0.index] }, sourceLocation: sourceLocation)
        for (match, reference) in zip(matches, expected) {
            #expect(abs(Double(match.score) - reference.score) <= 1e-5, sourceLocation: sourceLocation)
            #expect(match.personID == gallery.persons[reference.index], sourceLocation: sourceLocation)
        }
    }

    /// For data with ties at float precision: the results are a valid top k within 1e-5 — each
    /// score within 1e-5 of the face's true score, and no face left out that truly beats the
    /// last one returned by more than 1e-5.
    func expectValidTopK(
        _ matches: [Match], _ gallery: Gallery, query: [Float], k: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let reference = Reference.topK(gallery, query: query, k: gallery.ids.count)
        let truth = Dictionary(uniqueKeysWithValues: reference.map { (gallery.ids[$0.index], $0.score) })
        #expect(matches.count == min(k, gallery.ids.count), sourceLocation: sourceLocation)
        for match in matches {
            #expect(abs(Double(match.score) - truth[match.faceID]!) <= 1e-5, sourceLocation: sourceLocation)
        }
        let returned = Set(matches.map(\.faceID))
        let last = Double(matches.last?.score ?? -1)
        let missed = reference.filter { !returned.contains(gallery.ids[$0.index]) && $0.score > last + 1e-5 }
        #expect(missed.isEmpty, "left out faces scoring up to \(missed.first?.score ?? 0)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [(64, 300), (100, 777), (128, 2000), (513, 400), (512, 3000)])
    func everyModeFindsTheExactTopK(_ dimension: Int, _ count: Int) throws {
        let gallery = Gallery.random(count: count, dimension: dimension, seed: UInt64(dimension * count))
        let shard = try gallery.shard(.init(quantized: true, segmentRows: 64))
        var generator = SeededGenerator(seed: 1)
        let queries = (0..<8).map { _ in generator.vector(dimension) }
        for query in queries {
            let expected = Reference.topK(gallery, query: query, k: 10)
            let fp32 = try shard.search(query, k: 10, mode: .fp32)
            let int8 = try shard.search(query, k: 10, mode: .int8)
            expectMatchesReference(fp32, expected, gallery)
            // Quantised search re-scores in float: identical faces and identical scores.
            #expect(int8 == fp32)
        }
        let batch = try shard.search(batch: queries, k: 10)
        for (query, matches) in zip(queries, batch) {
            expectMatchesReference(matches, Reference.topK(gallery, query: query, k: 10), gallery)
        }
    }

    @Test func quantisedSearchStaysExactAmongNearDuplicates() throws {
        // 2000 rows within a hair of one another: int8 cannot tell them apart, so nearly all must
        // be re-scored, and the answer must still be exactly the float one.
        var generator = SeededGenerator(seed: 5)
        let base = generator.vector(256)
        let vectors = (0..<2000).map { _ in base.map { $0 + 1e-3 * generator.gaussian() } }
        let gallery = Gallery(ids: vectors.map { _ in UUID() }, persons: vectors.indices.map { "p\($0)" }, vectors: vectors)
        let shard = try gallery.shard(.init(quantized: true))
        let query = base.map { $0 + 1e-3 * generator.gaussian() }
        let int8 = try shard.search(query, k: 20, mode: .int8)
        #expect(int8 == (try shard.search(query, k: 20, mode: .fp32)))
        expectValidTopK(int8, gallery, query: query, k: 20)
    }

    @Test func duplicatesAndTiesGoToTheLowerRow() throws {
        var generator = SeededGenerator(seed: 3)
        let twin = generator.vector(96)
        var vectors = (0..<40).map { _ in generator.vector(96) }
        for index in [5, 17, 18, 33] { vectors[index] = twin }
        let gallery = Gallery(ids: vectors.map { _ in UUID() }, persons: vectors.indices.map { "p\($0)" }, vectors: vectors)
        let shard = try gallery.shard(.init(quantized: true, segmentRows: 8))
        for mode in [SearchMode.fp32, .int8] {
            let matches = try shard.search(twin, k: 4, mode: mode)
            #expect(matches.map(\.row) == [5, 17, 18, 33], "\(mode)")
            #expect(matches.allSatisfy { abs($0.score - 1) < 1e-6 })
        }
        let batch = try shard.search(batch: [twin], k: 4)
        #expect(batch[0].map(\.row) == [5, 17, 18, 33])
    }

    @Test func edgeCasesOfKAndSize() throws {
        let empty = try Shard(dimension: 64, options: .init(quantized: true))
        for mode in SearchMode.allCases {
            #expect(try empty.search([Float](repeating: 1, count: 64), k: 5, mode: mode).isEmpty)
        }
        #expect(try empty.searchPersons([Float](repeating: 1, count: 64), k: 5).isEmpty)
        #expect(try empty.search(batch: [[Float](repeating: 1, count: 64)], k: 5) == [[]])

        let gallery = Gallery.random(count: 7, dimension: 64, seed: 11)
        let shard = try gallery.shard(.init(quantized: true))
        let query = gallery.vectors[2]
        for mode in SearchMode.allCases {
            #expect(try shard.search(query, k: 0, mode: mode).isEmpty)
            let all = try shard.search(query, k: 50, mode: mode)
            expectMatchesReference(all, Reference.topK(gallery, query: query, k: 50), gallery)
        }
        #expect(try shard.search(batch: [query], k: 0) == [[]])
    }

    @Test func aMinimumScoreReturnsOnlyWhatReachesIt() throws {
        let gallery = Gallery.random(count: 500, dimension: 128, seed: 21)
        let shard = try gallery.shard(.init(quantized: true))
        let query = gallery.vectors[10]
        let expected = Reference.topK(gallery, query: query, k: 10, minimum: 0.1)
        for mode in [SearchMode.fp32, .int8] {
            let matches = try shard.search(query, k: 10, minScore: 0.1, mode: mode)
            expectMatchesReference(matches, expected, gallery)
        }
        expectMatchesReference(try shard.search(batch: [query], k: 10, minScore: 0.1)[0], expected, gallery)
        #expect(try shard.search(query, k: 10, minScore: 1.01).isEmpty)
    }

    @Test func searchOverPersonsKeepsEachPersonsBestFace() throws {
        // Five faces per person, so the best faces of the top persons crowd each other out.
        let gallery = Gallery.random(count: 600, dimension: 64, personsEvery: 5, seed: 31)
        let shard = try gallery.shard(.init(quantized: true))
        var generator = SeededGenerator(seed: 8)
        for _ in 0..<5 {
            let query = gallery.vectors[Int.random(in: 0..<600, using: &generator)].map { $0 + 0.3 * generator.gaussian() }
            let expected = Reference.topPersons(gallery, query: query, k: 10)
            for mode in [SearchMode.fp32, .int8] {
                let persons = try shard.searchPersons(query, k: 10, mode: mode)
                #expect(persons.map(\.personID) == expected.map(\.person))
                for (person, reference) in zip(persons, expected) {
                    #expect(abs(Double(person.score) - reference.score) <= 1e-5)
                }
                #expect(Set(persons.map(\.personID)).count == persons.count)
            }
        }
    }

    @Test func verifyScoresThePersonsBestFace() throws {
        let gallery = Gallery.random(count: 60, dimension: 64, personsEvery: 3, seed: 41)
        let shard = try gallery.shard()
        let query = gallery.vectors[7]
        let match = try #require(try shard.verify(query, person: "person-2"))
        let best = (6...8).max { Reference.cosine(gallery.vectors[$0], query) < Reference.cosine(gallery.vectors[$1], query) }!
        #expect(match.faceID == gallery.ids[best])
        #expect(abs(match.score - 1) < 1e-6)
        #expect(try shard.verify(query, person: "nobody") == nil)
    }
}
