// Scores counted in fixed bins: 200 of width 0.01 over [−1, 1], the same for every tenant and
// day, so histograms add up and a threshold can be tried against them.

import Foundation

public struct ScoreHistogram: Sendable, Equatable {
    public static let start = -1.0
    public static let binWidth = 0.01
    public static let binCount = 200

    /// counts[i]: scores in [start + i·width, start + (i+1)·width); 1 itself in the last bin.
    public private(set) var counts: [Int64]

    public init() { counts = Array(repeating: 0, count: Self.binCount) }

    /// From stored counts; nil unless there is one per bin.
    public init?(counts: [Int64]) {
        guard counts.count == Self.binCount, counts.allSatisfy({ $0 >= 0 }) else { return nil }
        self.counts = counts
    }

    public init(_ scores: some Sequence<Double>) {
        self.init()
        for score in scores { add(score) }
    }

    /// The bin of `score`; NaN counts nowhere. A score on an edge (0.57, as a person types it)
    /// is in the bin that edge starts, though (0.57 + 1) / 0.01 is 156.99999999999997 in binary.
    public static func bin(_ score: Double) -> Int? {
        guard score.isFinite else { return nil }
        let index = ((score - start) / binWidth + 1e-9).rounded(.down)
        return Int(min(Double(binCount - 1), max(0, index)))
    }

    public mutating func add(_ score: Double, count: Int64 = 1) {
        guard let bin = Self.bin(score) else { return }
        counts[bin] = counts[bin].saturatingAdd(count)
    }

    public static func + (a: ScoreHistogram, b: ScoreHistogram) -> ScoreHistogram {
        var sum = a
        for index in sum.counts.indices { sum.counts[index] = sum.counts[index].saturatingAdd(b.counts[index]) }
        return sum
    }

    public var total: Int64 { counts.reduce(0) { $0.saturatingAdd($1) } }
    public var isEmpty: Bool { counts.allSatisfy { $0 == 0 } }

    /// Scores in bins at or above the one `threshold` falls in: exact when the threshold is on a
    /// bin's edge (0.93), else it counts the scores of that bin below it too (at most one bin's).
    public func count(atLeast threshold: Double) -> Int64 {
        guard let first = Self.bin(threshold) else { return 0 }
        return counts[first...].reduce(0) { $0.saturatingAdd($1) }
    }
}

/// On the wire: the first bin with a count, the width, and the counts from there to the last
/// bin with one (`{"start": 0.71, "binWidth": 0.01, "counts": [3, 0, 5]}`).
extension ScoreHistogram: Codable {
    enum CodingKeys: String, CodingKey { case start, binWidth, counts }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let first = counts.firstIndex { $0 != 0 } ?? 0
        let last = counts.lastIndex { $0 != 0 } ?? -1
        try container.encode(((Self.start + Double(first) * Self.binWidth) * 100).rounded() / 100, forKey: .start)
        try container.encode(Self.binWidth, forKey: .binWidth)
        try container.encode(last >= first ? Array(counts[first...last]) : [], forKey: .counts)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let start = try container.decode(Double.self, forKey: .start)
        let trimmed = try container.decode([Int64].self, forKey: .counts)
        self.init()
        guard let first = Self.bin(start + Self.binWidth / 2), first + trimmed.count <= Self.binCount else {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: container, debugDescription: "counts outside [-1, 1]")
        }
        for (offset, count) in trimmed.enumerated() { counts[first + offset] = max(0, count) }
    }
}

/// The best score of every verify and every search of a tenant (counts only: no probe, no
/// template), so a threshold can be tried against what was asked.
public struct DecisionHistograms: Sendable, Codable, Equatable {
    public var verify = ScoreHistogram()
    public var search = ScoreHistogram()

    public init(verify: ScoreHistogram = ScoreHistogram(), search: ScoreHistogram = ScoreHistogram()) {
        self.verify = verify
        self.search = search
    }

    public enum Kind: Sendable { case verify, search }

    public mutating func add(_ kind: Kind, score: Double) {
        switch kind {
        case .verify: verify.add(score)
        case .search: search.add(score)
        }
    }

    public static func + (a: DecisionHistograms, b: DecisionHistograms) -> DecisionHistograms {
        DecisionHistograms(verify: a.verify + b.verify, search: a.search + b.search)
    }

    /// Subtracts counts `b` already holds (clamped at zero).
    public static func - (a: DecisionHistograms, b: DecisionHistograms) -> DecisionHistograms {
        func minus(_ x: ScoreHistogram, _ y: ScoreHistogram) -> ScoreHistogram {
            ScoreHistogram(counts: zip(x.counts, y.counts).map { max(0, $0.saturatingSubtract($1)) }) ?? x
        }
        return DecisionHistograms(verify: minus(a.verify, b.verify), search: minus(a.search, b.search))
    }

    public var isEmpty: Bool { verify.isEmpty && search.isEmpty }
}
