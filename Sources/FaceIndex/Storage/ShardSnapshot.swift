// What a search sees: an immutable list of segments and a row count, taken in O(1).

/// Every segment but the last holds exactly `segmentRows` rows, so global row `g` lives at
/// segment `g / segmentRows`, slot `g % segmentRows`.
final class ShardSnapshot: Sendable {
    let segments: [Segment]
    let count: Int
    let dimension: Int
    let segmentRows: Int
    /// The largest number of faces any one person has: bounds how many rows a search over
    /// persons must keep to be exact.
    let maxFacesPerPerson: Int

    init(segments: [Segment], count: Int, dimension: Int, segmentRows: Int, maxFacesPerPerson: Int) {
        self.segments = segments
        self.count = count
        self.dimension = dimension
        self.segmentRows = segmentRows
        self.maxFacesPerPerson = maxFacesPerPerson
    }

    /// Rows of segment `index` visible in this snapshot.
    @inline(__always)
    func rows(inSegment index: Int) -> Int {
        min(segmentRows, count - index * segmentRows)
    }

    /// The segments that hold rows, with their visible row counts and first global rows.
    var blocks: [(segment: Segment, rows: Int, firstRow: Int)] {
        segments.indices.compactMap { index in
            let rows = rows(inSegment: index)
            return rows > 0 ? (segments[index], rows, index * segmentRows) : nil
        }
    }

    @inline(__always)
    func locate(_ row: Int) -> (segment: Segment, slot: Int) {
        (segments[row / segmentRows], row % segmentRows)
    }

    var isQuantized: Bool { segments.first?.isQuantized ?? false }
}
