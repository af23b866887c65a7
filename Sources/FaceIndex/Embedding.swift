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
        var squares = 0.0
        for value in values {
            guard value.isFinite else { throw .nonFinite }
            squares += Double(value) * Double(value)
        }
        let norm = squares.squareRoot()
        guard norm > 0, norm.isFinite else { throw .zeroVector }
        let normalized = values.map { Float(Double($0) / norm) }
        guard normalized.contains(where: { $0 != 0 }) else { throw .zeroVector }
        return normalized
    }
}
