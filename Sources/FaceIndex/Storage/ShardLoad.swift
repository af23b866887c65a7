// A new shard's rows written straight into segments as they are read, by several readers at once.

import CFaceKernels
import Foundation

/// The rows one reader brings to a new shard: each embedding is checked, normalised and
/// quantised in the segment memory it will be searched in, with no array in between. Readers
/// fill loads of their own in parallel (one per database connection, or per slice of a file);
/// `Shard(dimension:options:loaded:)` joins them and publishes every row at once.
///
/// `@unchecked Sendable`: a load is filled by one thread at a time and handed over whole.
public final class ShardLoad: @unchecked Sendable {
    public let dimension: Int
    public let options: Shard.Options
    /// Rows that were not a valid embedding (wrong length, not finite, zero), left out.
    public private(set) var skipped = 0
    /// Full segments, then the one being filled.
    var segments: [Segment] = []
    /// Each row's person, in row order (numbers are given when the loads are joined).
    var persons: [String] = []
    private let expected: Int
    /// Joined into a shard: its segments are that shard's now, never to be written again.
    var joined = false

    /// `expectedRows` sizes the first segments (a small tenant does not get a full one).
    public init(dimension: Int, options: Shard.Options = Shard.Options(), expectedRows: Int = 0) throws(FaceIndexError) {
        guard Embedding.dimensions.contains(dimension) else { throw .unsupportedDimension(dimension) }
        precondition(options.segmentRows >= 1)
        self.dimension = dimension
        self.options = options
        expected = max(0, expectedRows)
        // A guess, never trusted for more than a few million rows up front.
        persons.reserveCapacity(min(expected, 1 << 22))
    }

    public var count: Int { persons.count }

    /// Adds a face whose embedding is `dimension` big-endian float32s, as PostgreSQL sends them.
    /// False (and nothing added) when the bytes are not a valid embedding.
    @discardableResult
    public func append(face: UUID, person: String, bigEndianFloats bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == dimension * MemoryLayout<Float>.size else { return skip() }
        return append(face: face, person: person) { row in
            fk_load_big_endian_f32(bytes.baseAddress, row.count, row.baseAddress)
        }
    }

    /// Adds a face from floats in this machine's order. False when they are not a valid embedding.
    @discardableResult
    public func append(face: UUID, person: String, embedding: UnsafeBufferPointer<Float>) -> Bool {
        guard embedding.count == dimension else { return skip() }
        return append(face: face, person: person) { row in
            _ = row.initialize(fromContentsOf: embedding)
        }
    }

    private func append(face: UUID, person: String, write: (UnsafeMutableBufferPointer<Float>) -> Void) -> Bool {
        precondition(!joined, "a load added to after it was joined")
        let slot = count % options.segmentRows
        if count / options.segmentRows == segments.count {
            segments.append(Segment(dimension: dimension, capacity: capacity(), quantized: options.quantized))
        } else if slot == segments[segments.count - 1].capacity {
            // Past what was expected: grow the tail (doubling, up to a full segment).
            let tail = segments[segments.count - 1]
            segments[segments.count - 1] = tail.copy(rows: slot, capacity: min(options.segmentRows, 2 * tail.capacity))
        }
        let added = segments[segments.count - 1].fill(slot: slot, faceID: face) { row in
            write(row)
            do { try Embedding.normalize(row) } catch { return false }
            return true
        }
        guard added else { return skip() }
        persons.append(person)
        return true
    }

    /// A new segment holds what is still expected (at least 4 rows), up to a full one.
    private func capacity() -> Int {
        min(options.segmentRows, max(4, expected - count))
    }

    private func skip() -> Bool {
        skipped += 1
        return false
    }

    /// The rows of full segments, and the last one's when it is not full.
    var fullSegments: ArraySlice<Segment> { segments.prefix(count / options.segmentRows) }
    var tailRows: Int { count % options.segmentRows }
}

extension Shard {
    /// A shard of the faces in `loaded`, all published at once. Throws if a face is in two rows.
    public convenience init(dimension: Int, options: Options = Options(), loaded: [ShardLoad]) throws(FaceIndexError) {
        try self.init(dimension: dimension, options: options)
        precondition(loaded.allSatisfy { $0.dimension == dimension && $0.options == options }, "a load of another shard")
        try join(loaded)
    }

    private func join(_ loads: [ShardLoad]) throws(FaceIndexError) {
        let rowsPerSegment = options.segmentRows
        let total = loads.reduce(0) { $0 + $1.count }
        for load in loads {
            precondition(!load.joined, "a load joined twice")
            load.joined = true
        }
        try writer.withLock { state throws(FaceIndexError) in
            // Full segments are taken as they are; the rows of each load's last, partial one are
            // moved into segments at the end, so that every segment but the last is full.
            var persons: [String] = []
            persons.reserveCapacity(total)
            for load in loads {
                state.segments += load.fullSegments
                persons += load.persons.prefix(load.fullSegments.count * rowsPerSegment)
            }
            var row = state.segments.count * rowsPerSegment
            for load in loads where load.tailRows > 0 {
                let tail = load.segments[load.segments.count - 1]
                for slot in 0..<load.tailRows {
                    if row % rowsPerSegment == 0 {
                        let capacity = min(rowsPerSegment, max(4, total - row))
                        state.segments.append(Segment(dimension: dimension, capacity: capacity, quantized: options.quantized))
                    }
                    state.segments[state.segments.count - 1].copyRow(slot, of: tail, to: row % rowsPerSegment)
                    row += 1
                }
                persons += load.persons.suffix(load.tailRows)
            }
            assert(row == total)
            // Numbers for the persons, and the maps from faces and persons to rows.
            state.rowOfFace.reserveCapacity(total)
            for (row, person) in persons.enumerated() {
                let (segment, slot) = (state.segments[row / rowsPerSegment], row % rowsPerSegment)
                let number = directory.number(for: person)
                segment.persons[slot] = number
                let face = segment.faceIDs[slot]
                guard state.rowOfFace.updateValue(row, forKey: face) == nil else { throw .duplicateFace(face) }
                state.facesOfPerson[number, default: []].append(face)
            }
            state.count = total
            for faces in state.facesOfPerson.values {
                while state.personsWithFaces.count <= faces.count { state.personsWithFaces.append(0) }
                state.personsWithFaces[faces.count] += 1
            }
            publish(state, touched: Array(state.segments.indices))
        }
    }
}
