// The k best (score, row) pairs of a scan, kept in a bounded heap: never a full sort.

/// Order: higher score first; on equal scores the lower row wins, so results are deterministic
/// whatever the order rows were scanned in (and however a scan was split across threads).
struct TopK {
    let k: Int
    private(set) var scores: [Float] = []
    private(set) var rows: [Int] = []

    init(k: Int) {
        self.k = k
        scores.reserveCapacity(k)
        rows.reserveCapacity(k)
    }

    /// Whether (a) ranks before (b).
    @inline(__always)
    static func ranksBefore(_ scoreA: Float, _ rowA: Int, _ scoreB: Float, _ rowB: Int) -> Bool {
        scoreA > scoreB || (scoreA == scoreB && rowA < rowB)
    }

    var isFull: Bool { scores.count == k }

    /// The score a candidate must beat (or tie, with a lower row) to enter: -inf until full,
    /// +inf when k is 0 and nothing may enter.
    @inline(__always)
    var threshold: Float {
        guard k > 0 else { return .infinity }
        return isFull ? scores[0] : -.infinity
    }

    @inline(__always)
    mutating func insert(score: Float, row: Int) {
        guard k > 0 else { return }
        if scores.count < k {
            scores.append(score)
            rows.append(row)
            siftUp(scores.count - 1)
        } else if Self.ranksBefore(score, row, scores[0], rows[0]) {
            scores[0] = score
            rows[0] = row
            siftDown(0)
        }
    }

    /// Offers a block of scores for rows `firstRow…`, skipping quickly what cannot enter.
    mutating func insert(scores block: UnsafeBufferPointer<Float>, firstRow: Int, minimum: Float) {
        var bar = max(threshold, minimum)
        for (offset, score) in block.enumerated() where score >= bar {
            insert(score: score, row: firstRow + offset)
            bar = max(threshold, minimum)
        }
    }

    mutating func merge(_ other: TopK) {
        for index in other.scores.indices {
            insert(score: other.scores[index], row: other.rows[index])
        }
    }

    /// Best first.
    func sorted() -> [(score: Float, row: Int)] {
        zip(scores, rows).map { (score: $0, row: $1) }
            .sorted { Self.ranksBefore($0.score, $0.row, $1.score, $1.row) }
    }

    // The root is the entry that ranks last: a min-heap under `ranksBefore`.
    @inline(__always)
    private func ranksAfter(_ a: Int, _ b: Int) -> Bool {
        Self.ranksBefore(scores[b], rows[b], scores[a], rows[a])
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard ranksAfter(child, parent) else { break }
            scores.swapAt(child, parent)
            rows.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < scores.count else { return }
            var worst = left
            if left + 1 < scores.count, ranksAfter(left + 1, left) { worst = left + 1 }
            guard ranksAfter(worst, parent) else { return }
            scores.swapAt(parent, worst)
            rows.swapAt(parent, worst)
            parent = worst
        }
    }
}
