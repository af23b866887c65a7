// A shard built from loads filled apart (in parallel, from big-endian bytes or floats) is the
// shard `add(contentsOf:)` builds: the same rows, the same floats, the same answers.

import Foundation
import TestSupport
import Testing

@testable import FaceIndex

@Suite struct ShardLoadTests {
    /// The gallery split into `parts` loads, each filled on a thread of its own; rows alternate
    /// between big-endian bytes (as PostgreSQL sends them) and floats.
    static func loaded(_ gallery: Gallery, parts: Int, options: Shard.Options) throws -> Shard {
        let dimension = gallery.vectors[0].count
        let bounds = (0...parts).map { $0 * gallery.ids.count / parts }
        let loads = try (0..<parts).map { _ in try ShardLoad(dimension: dimension, options: options, expectedRows: 3) }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for row in bounds[part]..<bounds[part + 1] {
                let (id, person, vector) = (gallery.ids[row], gallery.persons[row], gallery.vectors[row])
                let added = row % 2 == 0
                    ? bigEndianBytes(vector).withUnsafeBytes { loads[part].append(face: id, person: person, bigEndianFloats: $0) }
                    : vector.withUnsafeBufferPointer { loads[part].append(face: id, person: person, embedding: $0) }
                precondition(added)
            }
        }
        return try Shard(dimension: dimension, options: options, loaded: loads)
    }

    static func bigEndianBytes(_ vector: [Float]) -> [UInt8] {
        vector.flatMap { value in withUnsafeBytes(of: value.bitPattern.bigEndian) { Array($0) } }
    }

    @Test(arguments: [(1, 4), (2, 4), (3, 7), (5, 256)])
    func loadsFilledApartMakeTheShardAddingMakes(parts: Int, segmentRows: Int) throws {
        let gallery = Gallery.random(count: 601, dimension: 64, personsEvery: 3, seed: 91)
        let options = Shard.Options(quantized: true, segmentRows: segmentRows)
        let loaded = try Self.loaded(gallery, parts: parts, options: options)
        let added = try gallery.shard(options)
        #expect(loaded.count == 601)
        // Every segment but the last is full, every face in exactly one row.
        let snapshot = loaded.snapshot()
        for index in snapshot.segments.indices.dropLast() { #expect(snapshot.rows(inSegment: index) == segmentRows) }
        #expect(snapshot.segments.count == (601 + segmentRows - 1) / segmentRows)
        #expect(Set(gallery.ids.filter { loaded.contains(face: $0) }).count == 601)
        #expect(snapshot.maxFacesPerPerson == 3)

        var generator = SeededGenerator(seed: 92)
        for _ in 0..<5 {
            let query = generator.vector(64)
            for mode in [SearchMode.fp32, .int8] {
                let (a, b) = (try loaded.search(query, k: 20, mode: mode), try added.search(query, k: 20, mode: mode))
                // The same faces with bit-identical scores: the same floats and codes.
                #expect(a.map(\.faceID) == b.map(\.faceID))
                #expect(a.map(\.score) == b.map(\.score))
                #expect(a.map(\.personID) == b.map(\.personID))
            }
            #expect(try loaded.searchPersons(query, k: 10) == added.searchPersons(query, k: 10))
        }
        #expect(try loaded.verify(gallery.vectors[7], person: "person-2")?.faceID == gallery.ids[7])
        // A loaded shard is an ordinary one: faces come and go.
        #expect(loaded.remove(person: "person-0") == 3)
        try loaded.add(face: UUID(), person: "person-0", embedding: gallery.vectors[0])
        #expect(loaded.count == 599)
    }

    @Test func rowsThatAreNoEmbeddingAreLeftOutAndCounted() throws {
        let load = try ShardLoad(dimension: 64, options: .init(quantized: true, segmentRows: 4))
        let good = Gallery.random(count: 6, dimension: 64, seed: 93)
        var nan = good.vectors[0]
        nan[5] = .nan
        var infinite = good.vectors[0]
        infinite[9] = -.infinity
        let bad: [[Float]] = [nan, infinite, [Float](repeating: 0, count: 64), Array(good.vectors[0].prefix(63))]
        for (row, vector) in zip(good.indices, good.vectors) {
            // A bad row before each good one: its slot is reused, nothing of it stays.
            let badVector = bad[row % bad.count]
            #expect(!badVector.withUnsafeBufferPointer { load.append(face: UUID(), person: "bad", embedding: $0) })
            #expect(!Self.bigEndianBytes(badVector).withUnsafeBytes { load.append(face: UUID(), person: "bad", bigEndianFloats: $0) })
            #expect(vector.withUnsafeBufferPointer { load.append(face: good.ids[row], person: good.persons[row], embedding: $0) })
        }
        #expect(load.skipped == 12 && load.count == 6)
        let shard = try Shard(dimension: 64, options: .init(quantized: true, segmentRows: 4), loaded: [load])
        #expect(shard.count == 6)
        #expect(try shard.searchPersons(good.vectors[3], k: 10).map(\.personID).sorted() == good.persons.sorted())
    }

    @Test func aFaceInTwoLoadsIsRefused() throws {
        let gallery = Gallery.random(count: 3, dimension: 64, seed: 94)
        let loads = try (0..<2).map { _ in try ShardLoad(dimension: 64) }
        for load in loads {
            _ = gallery.vectors[0].withUnsafeBufferPointer { load.append(face: gallery.ids[0], person: "p", embedding: $0) }
        }
        #expect(throws: FaceIndexError.duplicateFace(gallery.ids[0])) { try Shard(dimension: 64, loaded: loads) }
    }

    @Test func aSmallLoadTakesTheMemoryItNeeds() throws {
        let gallery = Gallery.random(count: 10, dimension: 512, seed: 95)
        let load = try ShardLoad(dimension: 512, expectedRows: 10)
        for row in gallery.indices {
            _ = gallery.vectors[row].withUnsafeBufferPointer { load.append(face: gallery.ids[row], person: gallery.persons[row], embedding: $0) }
        }
        // Sized by what was expected: not a 256-row segment (512 KB of floats) for ten faces.
        #expect(load.segments.map(\.capacity) == [10])
        let shard = try Shard(dimension: 512, loaded: [load])
        #expect(shard.memoryBytes < 64 * 1_024)
        // Nothing expected: the segment starts at 4 rows and doubles, up to a full one.
        let unsized = try ShardLoad(dimension: 64, options: .init(segmentRows: 32))
        for row in 0..<40 { _ = Gallery.random(count: 1, dimension: 64, seed: UInt64(row)).vectors[0].withUnsafeBufferPointer {
            unsized.append(face: UUID(), person: "p", embedding: $0)
        } }
        #expect(unsized.segments.map(\.capacity) == [32, 8])
    }
}

@Suite struct ScanWidthTests {
    /// A scan held to one core (a tenant sharing the node) finds exactly what a scan spread over
    /// every core finds, in both modes.
    @Test func aScanHeldToOneCoreFindsWhatEveryCoreFinds() throws {
        // 40,000 × 64 floats: enough for two workers (2 × 2^20 floats for fp32, a quarter as codes).
        let gallery = Gallery.random(count: 40_000, dimension: 64, seed: 96)
        let shard = try gallery.shard(.init(quantized: true))
        #expect(ParallelScan.workers(forFloats: 40_000 * 64) == min(2, ProcessInfo.processInfo.activeProcessorCount))
        #expect(ParallelScan.workers(forFloats: 40_000 * 64, cores: 1) == 1)
        var generator = SeededGenerator(seed: 97)
        for _ in 0..<5 {
            let query = generator.vector(64)
            for mode in [SearchMode.fp32, .int8] {
                #expect(try shard.search(query, k: 10, mode: mode, cores: 1) == shard.search(query, k: 10, mode: mode))
            }
            #expect(try shard.searchPersons(query, k: 10, cores: 1) == shard.searchPersons(query, k: 10))
        }
    }
}
