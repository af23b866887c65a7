// What the best scores of a tenant's recent verifies and searches say about a threshold: how
// many there were and how many it matched, and how many a new threshold would have matched.

import Foundation

/// The last days' decisions, at the thresholds in force.
public struct DecisionReport: Sendable, Codable, Equatable {
    public struct Kind: Sendable, Codable, Equatable {
        /// Verifies (or searches) counted: each one's best score, in the histogram.
        public var decisions: Int64
        public var threshold: Double
        /// Those whose best score reached the threshold's bin (see `ScoreHistogram.count(atLeast:)`).
        public var matched: Int64
        public var histogram: ScoreHistogram

        init(_ histogram: ScoreHistogram, threshold: Double) {
            decisions = histogram.total
            self.threshold = threshold
            matched = histogram.count(atLeast: threshold)
            self.histogram = histogram
        }
    }

    /// UTC days, inclusive.
    public var from: String
    public var to: String
    public var verify: Kind
    public var search: Kind

    public init(_ histograms: DecisionHistograms, from: String, to: String, verify: Threshold, search: Threshold) {
        self.from = from
        self.to = to
        self.verify = Kind(histograms.verify, threshold: verify.value)
        self.search = Kind(histograms.search, threshold: search.value)
    }
}

/// What a change of settings would have done to the last days' decisions.
public struct ThresholdEffect: Sendable, Codable, Equatable {
    public struct Change: Sendable, Codable, Equatable {
        public var decisions: Int64
        public var thresholdBefore: Double
        public var thresholdAfter: Double
        public var matchedBefore: Int64
        public var matchedAfter: Int64

        init(_ histogram: ScoreHistogram, before: Threshold, after: Threshold) {
            decisions = histogram.total
            thresholdBefore = before.value
            thresholdAfter = after.value
            matchedBefore = histogram.count(atLeast: before.value)
            matchedAfter = histogram.count(atLeast: after.value)
        }
    }

    public var from: String
    public var to: String
    public var verify: Change
    public var search: Change

    public init(
        _ histograms: DecisionHistograms, from: String, to: String, verify: (before: Threshold, after: Threshold),
        search: (before: Threshold, after: Threshold)
    ) {
        self.from = from
        self.to = to
        self.verify = Change(histograms.verify, before: verify.before, after: verify.after)
        self.search = Change(histograms.search, before: search.before, after: search.after)
    }
}
