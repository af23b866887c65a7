// Vectors enter the index only after this check: right length, finite, non-zero, unit length.

public enum Embedding {
    /// Supported dimensions: every face model we know of falls inside, with room.
    public static let dimensions = 64...4096

    /// `values` scaled to unit length, in float; the norm is computed in double so that long
    /// or tiny vectors neither overflow nor lose their direction.
    @inlinable  // specialised where it is called: generic over a collection, it was 9 % of a bulk enroll
    public static func normalized(_ values: some Collection<Float>, dimension: Int) throws(FaceIndexError) -> [Float] {
        guard values.count == dimension else {
            throw .dimensionMismatch(expected: dimension, actual: values.count)
        }
        var normalized = Array(values)
        try normalized.withUnsafeMutableBufferPointer { vector throws(FaceIndexError) in try normalize(vector) }
        return normalized
    }

    /// `normalized` in place, with the same arithmetic (a face loaded from storage gets the very
    /// floats it got when it was enrolled). On a throw the values are left scaled or not.
    @inlinable
    public static func normalize(_ values: UnsafeMutableBufferPointer<Float>) throws(FaceIndexError) {
        // Four running sums, not one chain of dependent additions (which was most of a shard
        // load's normalising). A NaN or an infinity makes the sum so: no test per value. A float
        // squared in double cannot overflow, so an infinite sum means an infinite value.
        var lanes = SIMD4<Double>()
        var index = 0
        while index + 4 <= values.count {
            let four = SIMD4<Double>(
                Double(values[index]), Double(values[index + 1]), Double(values[index + 2]), Double(values[index + 3]))
            lanes += four * four
            index += 4
        }
        while index < values.count {
            lanes[0] += Double(values[index]) * Double(values[index])
            index += 1
        }
        let squares = lanes.sum()
        guard squares.isFinite else { throw .nonFinite }
        let norm = squares.squareRoot()
        guard norm > 0, norm.isFinite else { throw .zeroVector }
        for index in values.indices { values[index] = Float(Double(values[index]) / norm) }
        guard values.contains(where: { $0 != 0 }) else { throw .zeroVector }
    }
}
