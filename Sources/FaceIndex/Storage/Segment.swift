// A block of rows: vectors (and optionally their int8 codes) with each row's face and person.

import Foundation

/// Rows `0..<published` of a segment are immutable: snapshots point at them and readers scan
/// them without a lock. The single writer of the shard writes only rows no snapshot has ever
/// shown (at or above `highWater`) or into a fresh copy, then publishes a snapshot.
///
/// `@unchecked Sendable`: the buffers are shared with readers only through published snapshots,
/// which cover rows the writer no longer writes; `highWater` is read and written by the writer
/// alone, under the shard's writer lock.
final class Segment: @unchecked Sendable {
    let dimension: Int
    let capacity: Int
    let vectors: UnsafeMutablePointer<Float>
    let faceIDs: UnsafeMutablePointer<UUID>
    let persons: UnsafeMutablePointer<UInt32>
    let codes: UnsafeMutablePointer<Int8>?
    /// Per row: scale, quantisation error ‖x − x̂‖ and ‖x̂‖ (quantised segments only).
    let quantization: UnsafeMutablePointer<Int8Quantizer.Quantized>?
    /// Rows below this have been visible in some snapshot: the writer must not touch them.
    var highWater = 0

    init(dimension: Int, capacity: Int, quantized: Bool) {
        self.dimension = dimension
        self.capacity = capacity
        vectors = Self.allocate(Float.self, count: capacity * dimension)
        faceIDs = Self.allocate(UUID.self, count: capacity)
        persons = Self.allocate(UInt32.self, count: capacity)
        codes = quantized ? Self.allocate(Int8.self, count: capacity * dimension) : nil
        quantization = quantized ? Self.allocate(Int8Quantizer.Quantized.self, count: capacity) : nil
    }

    deinit {
        vectors.deallocate()
        faceIDs.deallocate()
        persons.deallocate()
        codes?.deallocate()
        quantization?.deallocate()
    }

    var isQuantized: Bool { codes != nil }

    /// Bytes this segment holds.
    var byteCount: Int {
        capacity * (dimension * MemoryLayout<Float>.stride + MemoryLayout<UUID>.stride + MemoryLayout<UInt32>.stride)
            + (isQuantized ? capacity * (dimension + MemoryLayout<Int8Quantizer.Quantized>.stride) : 0)
    }

    /// A copy of rows `0..<rows` into a segment of `capacity` (≥ rows) the writer owns alone.
    func copy(rows: Int, capacity: Int) -> Segment {
        let copy = Segment(dimension: dimension, capacity: capacity, quantized: isQuantized)
        copy.vectors.update(from: vectors, count: rows * dimension)
        copy.faceIDs.update(from: faceIDs, count: rows)
        copy.persons.update(from: persons, count: rows)
        if let codes, let quantization {
            copy.codes!.update(from: codes, count: rows * dimension)
            copy.quantization!.update(from: quantization, count: rows)
        }
        return copy
    }

    /// Writes row `slot` (the caller has checked the slot is not visible to any reader).
    func write(slot: Int, vector: UnsafeBufferPointer<Float>, faceID: UUID, person: UInt32) {
        precondition(slot >= highWater && slot < capacity, "writing a row a reader may see")
        (vectors + slot * dimension).update(from: vector.baseAddress!, count: dimension)
        faceIDs[slot] = faceID
        persons[slot] = person
        if let codes, let quantization {
            quantization[slot] = Int8Quantizer.quantize(vector, into: codes + slot * dimension)
        }
    }

    /// Writes row `slot` from what `body` puts in its floats (the caller has checked as `write`
    /// does): when `body` returns true, the row takes the face and its int8 codes; when false,
    /// the slot stays free.
    func fill(slot: Int, faceID: UUID, _ body: (UnsafeMutableBufferPointer<Float>) -> Bool) -> Bool {
        precondition(slot >= highWater && slot < capacity, "writing a row a reader may see")
        let row = UnsafeMutableBufferPointer(start: vectors + slot * dimension, count: dimension)
        guard body(row) else { return false }
        faceIDs[slot] = faceID
        if let codes, let quantization {
            quantization[slot] = Int8Quantizer.quantize(UnsafeBufferPointer(row), into: codes + slot * dimension)
        }
        return true
    }

    /// Copies row `from` of `source` into row `slot` of this segment (same rule as `write`).
    func copyRow(_ from: Int, of source: Segment, to slot: Int) {
        precondition(slot >= highWater && slot < capacity, "writing a row a reader may see")
        (vectors + slot * dimension).update(from: source.vectors + from * dimension, count: dimension)
        faceIDs[slot] = source.faceIDs[from]
        persons[slot] = source.persons[from]
        if let codes, let quantization, let sourceCodes = source.codes, let sourceQuantization = source.quantization {
            (codes + slot * dimension).update(from: sourceCodes + from * dimension, count: dimension)
            quantization[slot] = sourceQuantization[from]
        }
    }

    func vector(_ slot: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: vectors + slot * dimension, count: dimension)
    }

    /// Cache-line aligned, so vector loads never straddle a line at a row that starts one.
    private static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer.allocate(
            byteCount: max(1, count) * MemoryLayout<T>.stride, alignment: max(64, MemoryLayout<T>.alignment)
        ).bindMemory(to: T.self, capacity: max(1, count))
    }
}
