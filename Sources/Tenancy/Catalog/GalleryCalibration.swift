// What a tenant's own gallery says about its threshold: its genuine scores (each person's faces
// among themselves), its impostor scores (each person's best against everyone else, as a search
// for them would meet if they were not enrolled), the error rates those give at the threshold in
// force and around it, and the pairs of persons that look like one human enrolled twice.

import Foundation

public struct GalleryCalibration: Sendable, Codable, Equatable {
    public struct Distribution: Sendable, Codable, Equatable {
        public var count: Int
        /// Keys "0", "0.01", … "1", as a model's calibration has them; empty with no score.
        public var quantiles: [String: Double]
        public var histogram: ScoreHistogram

        init(_ scores: [Double]) {
            count = scores.count
            quantiles = Calibration.quantileTable(scores.sorted())
            histogram = ScoreHistogram(scores)
        }
    }

    /// Error rates the gallery shows at one threshold.
    public struct Estimate: Sendable, Codable, Equatable {
        public var threshold: Double
        /// Genuine pairs below the threshold, as a share (nil: no person has two faces).
        public var falseNonMatchRate: Double?
        /// Persons measured whose best impostor reaches the threshold: how often a search for
        /// one of them, were they not enrolled, would name someone else.
        public var falsePositiveIdentificationRate: Double?
        /// Its one-sided 95 % upper bound: what the persons measured can claim at most (exact
        /// Clopper–Pearson up to 50 of them at or above the threshold, Wilson's bound above).
        public var falsePositiveIdentificationRateUpper95: Double?
        /// The per-comparison rate behind it: 1 − (1 − FPIR)^(1/c), c the comparisons a person's
        /// best impostor is the best of (their faces × the other persons' faces, on average).
        public var falseMatchRate: Double?
    }

    /// Two persons whose faces score at or above the threshold: one human enrolled twice, or a
    /// threshold too low. Ids and the score only.
    public struct NearDuplicate: Sendable, Codable, Equatable {
        public var personA: String
        public var personB: String
        public var score: Double
    }

    public var computedAt: Date
    /// False when the gallery changed since `computedAt` (a new computation is on its way).
    public var current: Bool
    public var persons: Int
    public var faces: Int
    /// "exact": every person measured; "sampled": `measuredPersons` of them, drawn at random.
    public var method: String
    public var measuredPersons: Int
    /// The 1:N threshold in force when this answer was made, and where it came from.
    public var threshold: Double
    public var thresholdSource: String
    public var genuine: Distribution
    public var impostor: Distribution
    /// At the threshold in force first, then at candidates around it, ascending.
    public var estimates: [Estimate]
    public var nearDuplicates: [NearDuplicate]
    /// The last days' verifies and searches: their best scores, and how many matched.
    public var decisions: DecisionReport?

    /// The most near-duplicate pairs an answer lists (the highest scores).
    public static let nearDuplicateLimit = 100

    public init(
        genuine: [Double], impostor: [Double], nearest: [(person: String, other: String, score: Double)], persons: Int, faces: Int,
        exact: Bool, current: Bool = true, threshold: Threshold, computedAt: Date
    ) {
        self.computedAt = computedAt
        self.current = current
        self.persons = persons
        self.faces = faces
        method = exact ? "exact" : "sampled"
        measuredPersons = nearest.count
        self.threshold = threshold.value
        thresholdSource = threshold.source
        self.genuine = Distribution(genuine)
        self.impostor = Distribution(impostor)
        let candidates = Set([-0.05, -0.02, -0.01, 0.01, 0.02, 0.05].map { ((threshold.value + $0) * 10_000).rounded() / 10_000 })
            .filter { (-1...1).contains($0) && $0 != threshold.value }.sorted()
        let facesEach = Double(faces) / Double(max(1, persons))
        let comparisons = Int((facesEach * max(1, Double(faces) - facesEach)).rounded())
        estimates = ([threshold.value] + candidates).map {
            Self.estimate(at: $0, genuine: genuine, impostor: impostor, comparisons: comparisons)
        }
        var seen = Set<[String]>()
        nearDuplicates = nearest.filter { $0.score >= threshold.value }.sorted { $0.score > $1.score }.compactMap { pair in
            let key = [pair.person, pair.other].sorted()
            guard seen.insert(key).inserted else { return nil }
            return NearDuplicate(personA: key[0], personB: key[1], score: Calibration.rounded(pair.score))
        }
        nearDuplicates = Array(nearDuplicates.prefix(Self.nearDuplicateLimit))
    }

    static func estimate(at threshold: Double, genuine: [Double], impostor: [Double], comparisons: Int) -> Estimate {
        let fnmr = genuine.isEmpty ? nil : Double(genuine.count { $0 < threshold }) / Double(genuine.count)
        let reached = impostor.count { $0 >= threshold }
        let fpir = impostor.isEmpty ? nil : Double(reached) / Double(impostor.count)
        let fmr = fpir.map { FalseMatchCurve.falseMatchRate(fpir: $0, comparisons: comparisons) }
        return Estimate(
            threshold: threshold, falseNonMatchRate: fnmr, falsePositiveIdentificationRate: fpir,
            falsePositiveIdentificationRateUpper95: impostor.isEmpty ? nil : upperBound(reached, of: impostor.count),
            falseMatchRate: fmr)
    }

    /// The one-sided 95 % upper bound on a rate seen `k` times in `n`: exact (Clopper–Pearson) for
    /// a few, where the normal approximation is poor; Wilson's score bound for many, where the
    /// exact sum would cost k terms a step of its search and the two agree closely.
    static func upperBound(_ k: Int, of n: Int) -> Double {
        if k <= 50 { return ClopperPearson.upperBound(failures: k, trials: n) }
        let (z, count, p) = (1.6448536269514722, Double(n), Double(k) / Double(n))
        let centre = p + z * z / (2 * count)
        let spread = z * (p * (1 - p) / count + z * z / (4 * count * count)).squareRoot()
        return min(1, (centre + spread) / (1 + z * z / count))
    }
}
