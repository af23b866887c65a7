// The bounded heap keeps what a full sort would keep, ties included.

import TestSupport
import Testing

@testable import FaceIndex

@Suite struct TopKTests {
    @Test(arguments: [0, 1, 3, 10, 50, 200])
    func keepsWhatAFullSortKeeps(_ k: Int) {
        var generator = SeededGenerator(seed: 42)
        // Few distinct values, so ties are everywhere.
        let scores = (0..<150).map { _ in Float(Int.random(in: 0..<12, using: &generator)) / 4 }
        var top = TopK(k: k)
        for (row, score) in scores.enumerated() { top.insert(score: score, row: row) }
        let expected = scores.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            .prefix(k)
        #expect(top.sorted().map(\.row) == expected.map(\.offset))
    }

    @Test func mergingPartsEqualsOneScanInAnyOrder() {
        var generator = SeededGenerator(seed: 9)
        let scores = (0..<500).map { _ in Float(Int.random(in: 0..<40, using: &generator)) }
        var whole = TopK(k: 25)
        for (row, score) in scores.enumerated() { whole.insert(score: score, row: row) }
        var back = TopK(k: 25)
        var front = TopK(k: 25)
        for row in stride(from: 499, through: 250, by: -1) { back.insert(score: scores[row], row: row) }
        for row in 0..<250 { front.insert(score: scores[row], row: row) }
        back.merge(front)
        #expect(back.sorted().map(\.row) == whole.sorted().map(\.row))
    }

    @Test func aMinimumKeepsOutWhatIsBelowIt() {
        var top = TopK(k: 10)
        let block: [Float] = [0.1, 0.5, 0.49, 0.9, .nan, 0.5]
        block.withUnsafeBufferPointer { top.insert(scores: $0, firstRow: 100, minimum: 0.5) }
        #expect(top.sorted().map(\.row) == [103, 101, 105])
    }
}
