// What a tenant's own gallery says about its threshold: the scores among each person's faces
// (genuine) and each person's best score against everyone else (impostor, leave one person out).
// Runs on the caller's thread alone, one matrix product per segment and chunk of queries, so a
// caller that wants it off the request path's cores gives it a thread of its own.

import CBLAS
import Foundation

/// The scores of a gallery against itself.
public struct GalleryScores: Sendable {
    /// One person's nearest other person: the best score of any of their faces.
    public struct Nearest: Sendable, Equatable {
        public var person: String
        public var other: String
        public var score: Float
    }

    public var persons: Int
    public var faces: Int
    /// Scores among each person's own faces (the first `genuineFacesPerPerson` of each).
    public var genuine: [Float]
    /// For each person measured, their best score against every other person's faces.
    public var impostor: [Float]
    /// The persons measured for `impostor`, each with the other person they came nearest.
    public var nearest: [Nearest]
    /// True when every person was measured; false when a sample was.
    public var exact: Bool
    /// The shard as it was scored.
    public var generation: Shard.Generation
}

extension Shard {
    /// At most this many faces of one person are paired for the genuine scores (28 pairs).
    public static let genuineFacesPerPerson = 8

    /// The gallery scored against itself: every person's faces paired among themselves, and the
    /// impostor scores of every person, or of `sampleLimit` persons drawn with `seed` when there
    /// are more. Exact scores, from fp32. `progress` hears the share done after each chunk and
    /// stops the work by returning false (nil is then returned).
    public func galleryScores(
        sampleLimit: Int, seed: UInt64 = 0x5EED, progress: (Double) -> Bool = { _ in true }
    ) -> GalleryScores? {
        directory.reading { () -> GalleryScores? in
            let (snapshot, generation, people) = personRows()
            let dimension = snapshot.dimension
            var genuine: [Float] = []
            for (_, rows) in people where rows.count > 1 {
                let paired = Array(rows.prefix(Self.genuineFacesPerPerson))
                for (index, row) in paired.enumerated().dropLast() {
                    let (segment, slot) = snapshot.locate(row)
                    genuine += ExactScan.scores(
                        snapshot, rows: Array(paired[(index + 1)...]),
                        query: UnsafeBufferPointer(start: segment.vectors + slot * dimension, count: dimension))
                }
            }
            // In the order of their numbers, so that a seed draws the same sample each time.
            var measured = people.sorted { $0.person < $1.person }
            if measured.count > sampleLimit {
                var generator = SplitMix64(seed: seed)
                measured.shuffle(using: &generator)
                measured.removeLast(measured.count - max(0, sampleLimit))
            }
            // Every face of the measured persons, as queries, with whose they are.
            let queries = measured.flatMap { person in person.rows.map { (person: person.person, row: $0) } }
            var best = [(score: Float, row: Int)](repeating: (-.infinity, -1), count: queries.count)
            // 256 queries a product: other tenants' searches kept their p99 meanwhile in five runs
            // here (0.84–0.95× of it alone), where 512 gave 0.96–2.1× (`enface bench calibration`).
            let chunk = 256
            for start in stride(from: 0, to: queries.count, by: chunk) {
                let slice = queries[start..<min(queries.count, start + chunk)]
                let found = GalleryScan.bestOfOthers(snapshot, queries: Array(slice))
                for (offset, result) in found.enumerated() { best[start + offset] = result }
                guard progress(Double(start + slice.count) / Double(max(1, queries.count))) else { return nil }
            }
            var nearest: [UInt32: (score: Float, row: Int)] = [:]
            for (query, result) in zip(queries, best) where result.row >= 0 {
                if result.score > nearest[query.person]?.score ?? -.infinity { nearest[query.person] = result }
            }
            let persons = measured.map(\.person)
            let others = persons.map { nearest[$0].map { snapshot.locate($0.row) } }
            let names = directory.names(persons + others.map { $0.map { $0.segment.persons[$0.slot] } ?? 0 })
            var result = GalleryScores(
                persons: people.count, faces: snapshot.count, genuine: genuine, impostor: [], nearest: [],
                exact: measured.count == people.count, generation: generation)
            for (index, person) in persons.enumerated() {
                guard let found = nearest[person] else { continue }
                result.impostor.append(found.score)
                result.nearest.append(.init(person: names[index], other: names[persons.count + index], score: found.score))
            }
            return result
        }
    }
}

enum GalleryScan {
    /// For each query row, the best score of a row of another person, and that row (−1 if none).
    static func bestOfOthers(
        _ snapshot: ShardSnapshot, queries: [(person: UInt32, row: Int)]
    ) -> [(score: Float, row: Int)] {
        BatchScan.singleThreadedBLAS
        let dimension = snapshot.dimension
        let packed = UnsafeMutableBufferPointer<Float>.allocate(capacity: queries.count * dimension)
        let products = UnsafeMutableBufferPointer<Float>.allocate(capacity: queries.count * snapshot.segmentRows)
        defer {
            packed.deallocate()
            products.deallocate()
        }
        for (index, query) in queries.enumerated() {
            let (segment, slot) = snapshot.locate(query.row)
            (packed.baseAddress! + index * dimension).update(from: segment.vectors + slot * dimension, count: dimension)
        }
        var best = [(score: Float, row: Int)](repeating: (-.infinity, -1), count: queries.count)
        for block in snapshot.blocks {
            // products (queries × rows) = queries (queries × D) · rowsᵀ (D × rows)
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans,
                Int32(queries.count), Int32(block.rows), Int32(dimension),
                1, packed.baseAddress, Int32(dimension),
                block.segment.vectors, Int32(dimension),
                0, products.baseAddress, Int32(block.rows))
            for (index, query) in queries.enumerated() {
                let scores = products.baseAddress! + index * block.rows
                for slot in 0..<block.rows where scores[slot] > best[index].score {
                    if block.segment.persons[slot] != query.person { best[index] = (scores[slot], block.firstRow + slot) }
                }
            }
        }
        return best
    }
}

/// SplitMix64: a small, seeded generator, so a sample is the same each time it is drawn (and a
/// benchmark's synthetic gallery the same each run).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
