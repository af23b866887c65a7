// Adding and removing: the shard always holds exactly what was added and not removed, and its
// memory stays within 10% of the vectors it holds.

import Foundation
import TestSupport
import Testing

@testable import FaceIndex

@Suite struct ShardWriteTests {
    @Test func removingSwapsTheLastRowInAndSearchStaysExact() throws {
        var gallery = Gallery.random(count: 500, dimension: 64, personsEvery: 2, seed: 51)
        let shard = try gallery.shard(.init(quantized: true, segmentRows: 32))
        var generator = SeededGenerator(seed: 52)
        for _ in 0..<120 {
            let index = Int.random(in: gallery.indices, using: &generator)
            #expect(shard.remove(face: gallery.ids[index]))
            gallery.ids.remove(at: index)
            gallery.persons.remove(at: index)
            gallery.vectors.remove(at: index)
        }
        #expect(shard.count == 380)
        let query = generator.vector(64)
        let expected = Reference.topK(gallery, query: query, k: 15)
        for mode in [SearchMode.fp32, .int8] {
            let found = try shard.search(query, k: 15, mode: mode)
            #expect(found.map(\.faceID) == expected.map { gallery.ids[$0.index] })
            for (match, reference) in zip(found, expected) {
                #expect(abs(Double(match.score) - reference.score) <= 1e-5)
            }
        }
        #expect(!shard.remove(face: UUID()))
    }

    @Test func removingAPersonRemovesAllTheirFaces() throws {
        let gallery = Gallery.random(count: 30, dimension: 64, personsEvery: 3, seed: 61)
        let shard = try gallery.shard()
        #expect(shard.remove(person: "person-4") == 3)
        #expect(shard.remove(person: "person-4") == 0)
        #expect(shard.count == 27)
        #expect(try shard.verify(gallery.vectors[12], person: "person-4") == nil)
        let found = try shard.searchPersons(gallery.vectors[12], k: 30)
        #expect(!found.contains { $0.personID == "person-4" })
        #expect(found.count == 9)
    }

    @Test func addingAfterRemovingReusesRowsWithoutDisturbingOldSnapshots() throws {
        let shard = try Shard(dimension: 64, options: .init(quantized: true, segmentRows: 16))
        var generator = SeededGenerator(seed: 71)
        var live: [UUID: [Float]] = [:]
        for round in 0..<400 {
            if !live.isEmpty, round % 3 == 0 {
                let victim = live.keys.sorted { $0.uuidString < $1.uuidString }[Int.random(in: 0..<live.count, using: &generator)]
                #expect(shard.remove(face: victim))
                live[victim] = nil
            } else {
                let id = UUID()
                let vector = generator.vector(64)
                try shard.add(face: id, person: "p\(round % 17)", embedding: vector)
                live[id] = vector
            }
        }
        #expect(shard.count == live.count)
        for (id, vector) in live.prefix(20) {
            let best = try #require(try shard.search(vector, k: 1, mode: .int8).first)
            #expect(best.faceID == id)
            #expect(abs(best.score - 1) < 1e-5)
        }
    }

    @Test(arguments: [1, 3, 10, 100, 1000, 5000])
    func memoryStaysWithinATenthOfTheVectors(_ count: Int) throws {
        let dimension = 128
        var generator = SeededGenerator(seed: UInt64(count))
        let oneByOne = try Shard(dimension: dimension)
        for index in 0..<count {
            try oneByOne.add(face: UUID(), person: "p\(index)", embedding: generator.vector(dimension))
        }
        let bulk = try Gallery.random(count: count, dimension: dimension, seed: 3).shard()
        let vectors = count * dimension * 4
        // Per row beyond its vector: face id, person number, map entries and the person's name.
        let perRow = 256
        for shard in [oneByOne, bulk] {
            #expect(shard.memoryBytes <= Int(1.1 * Double(vectors)) + perRow * count + 4 * dimension * 4)
            #expect(shard.memoryBytes >= vectors)
        }
    }

    @Test func refusesBadInputWithTypedErrors() throws {
        let shard = try Shard(dimension: 64, options: .init(quantized: false))
        let good = [Float](repeating: 0.5, count: 64)
        var nan = good
        nan[3] = .nan
        var infinite = good
        infinite[60] = -.infinity
        let id = UUID()
        try shard.add(face: id, person: "a", embedding: good)
        #expect(throws: FaceIndexError.duplicateFace(id)) { try shard.add(face: id, person: "b", embedding: good) }
        #expect(throws: FaceIndexError.dimensionMismatch(expected: 64, actual: 65)) {
            try shard.add(face: UUID(), person: "a", embedding: good + [1])
        }
        #expect(throws: FaceIndexError.nonFinite) { try shard.add(face: UUID(), person: "a", embedding: nan) }
        #expect(throws: FaceIndexError.nonFinite) { try shard.search(infinite, k: 1) }
        #expect(throws: FaceIndexError.zeroVector) { try shard.search([Float](repeating: 0, count: 64), k: 1) }
        #expect(throws: FaceIndexError.dimensionMismatch(expected: 64, actual: 2)) { try shard.search([1, 2], k: 1) }
        #expect(throws: FaceIndexError.notQuantized) { try shard.search(good, k: 1, mode: .int8) }
        #expect(throws: FaceIndexError.unsupportedDimension(63)) { try Shard(dimension: 63) }
        #expect(throws: FaceIndexError.unsupportedDimension(4097)) { try Shard(dimension: 4097) }
        // A bulk load with one bad face adds nothing.
        #expect(throws: FaceIndexError.nonFinite) {
            try shard.add(contentsOf: [.init(id: UUID(), person: "x", embedding: good), .init(id: UUID(), person: "y", embedding: nan)])
        }
        #expect(shard.count == 1)
    }

    @Test func shardsOfDifferentTenantsAreIndependent() throws {
        let index = FaceIndex()
        let a = UUID()
        let b = UUID()
        let shardA = try index.shard(for: a, dimension: 64)
        try shardA.add(face: UUID(), person: "alice", embedding: [Float](repeating: 1, count: 64))
        let shardB = try index.shard(for: b, dimension: 128)
        #expect(shardB.count == 0)
        #expect(try shardB.search([Float](repeating: 1, count: 128), k: 5).isEmpty)
        #expect(try index.shard(for: a, dimension: 64) === shardA)
        #expect(throws: FaceIndexError.dimensionMismatch(expected: 64, actual: 128)) { try index.shard(for: a, dimension: 128) }
        #expect(index.evict(a))
        #expect(index.shard(for: a) == nil)
        #expect(index.memoryBytes == shardB.memoryBytes)
    }
}

/// Persons that come and go leave nothing behind, and a number is never reused under a reader.
struct PersonChurnTests {
    static func vector(_ seed: Int) -> [Float] { (0..<64).map { Float(sin(Double(($0 + 1) * (seed + 3)))) + 0.001 } }

    @Test func tenThousandPersonsComingAndGoingLeaveTheShardAsItWas() throws {
        let shard = try Shard(dimension: 64)
        for resident in 0..<100 { try shard.add(face: UUID(), person: "resident-\(resident)", embedding: Self.vector(resident)) }
        let (bytes, numbers) = (shard.memoryBytes, shard.directory.count)
        for cycle in 0..<10_000 {
            let face = UUID()
            let person = "visitor-\(cycle)@example.com"
            try shard.add(face: face, person: person, embedding: Self.vector(cycle))
            if cycle.isMultiple(of: 2) { #expect(shard.remove(face: face)) } else { #expect(shard.remove(person: person) == 1) }
        }
        #expect(shard.count == 100)
        #expect(shard.directory.count <= numbers + 1, "\(shard.directory.count) numbers for \(numbers) persons")
        // The last visitor's name waits for reuse: a hundred bytes, not 10,000 names' worth.
        #expect(shard.memoryBytes <= bytes + 200, "\(shard.memoryBytes) bytes, \(bytes) before")
        // Every resident is still found by name.
        let found = try shard.searchPersons(Self.vector(42), k: 1)
        #expect(found.first?.personID == "resident-42")
    }

    @Test func aReleasedNumberWaitsForTheReadersThatCouldStillSeeIt() throws {
        let directory = PersonDirectory()
        let old = directory.number(for: "leaving")
        directory.reading {
            // A search began while "leaving" had rows; it is released and someone new arrives.
            directory.release("leaving")
            let newcomer = directory.number(for: "arriving")
            #expect(newcomer != old)
            #expect(directory.names([old]) == ["leaving"])
        }
        // Once no reader can see them, both numbers are reused: a third and fourth person take no more.
        directory.release("arriving")
        _ = directory.number(for: "third")
        _ = directory.number(for: "fourth")
        #expect(directory.count == 2)
    }
}
