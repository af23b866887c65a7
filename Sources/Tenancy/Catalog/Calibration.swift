// What labelled pairs of faces say about a threshold: the genuine and impostor score
// distributions, and the thresholds at fixed false-match rates, each with the exact binomial
// (Clopper–Pearson) upper bound on its false-match rate, so nothing claims more than the pairs hold.

import Foundation

/// A model's calibration: where its scores came from and the operating points they support.
public struct Calibration: Sendable, Codable, Equatable {
    /// One photo a calibration used: its path under the folder given, its person, its SHA-256.
    public struct Photo: Sendable, Codable, Equatable {
        public var path: String
        public var person: String
        public var sha256: String

        public init(path: String, person: String, sha256: String) {
            self.path = path
            self.person = person
            self.sha256 = sha256
        }
    }

    /// The threshold at a false-match rate, as far as the impostor pairs support it.
    public struct OperatingPoint: Sendable, Codable, Equatable {
        /// The false-match rate asked for.
        public var falseMatchRate: Double
        /// The lowest threshold at which the FMR's 95 % upper bound is within `falseMatchRate`.
        public var threshold: Double
        /// Impostor pairs scoring at or above the threshold, and that share of all of them.
        public var falseMatches: Int
        public var observedFalseMatchRate: Double
        /// The one-sided 95 % Clopper–Pearson upper bound on the false-match rate.
        public var falseMatchRateUpper95: Double
        /// Genuine pairs scoring below the threshold, as a share of all of them.
        public var falseNonMatchRate: Double
    }

    public var photos: [Photo]
    public var persons: Int
    public var genuinePairs: Int
    public var impostorPairs: Int
    /// Score quantiles (keys "0", "0.01", … "1"), each distribution's.
    public var genuine: [String: Double]
    public var impostor: [String: Double]
    public var operatingPoints: [OperatingPoint]

    /// The quantiles every calibration reports.
    public static let quantiles: [Double] = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]
    /// The false-match rates asked for, as far as the pairs support each.
    public static let rates: [Double] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]

    /// The calibration of `genuine` and `impostor` scores (cosine, any order).
    public init(photos: [Photo], persons: Int, genuine: [Double], impostor: [Double]) {
        self.photos = photos
        self.persons = persons
        genuinePairs = genuine.count
        impostorPairs = impostor.count
        let (sortedGenuine, sortedImpostor) = (genuine.sorted(), impostor.sorted())
        self.genuine = Self.quantileTable(sortedGenuine)
        self.impostor = Self.quantileTable(sortedImpostor)
        operatingPoints = Self.rates.compactMap { Self.operatingPoint(at: $0, genuine: sortedGenuine, impostor: sortedImpostor) }
        // The strictest rate the pairs can claim at all: no false match, its bound rounded up to two
        // significant digits (3/n, roughly), when it is below every standard rate supported.
        if !impostor.isEmpty, operatingPoints.last?.falseMatches != 0 {
            let limit = Self.roundedUp(ClopperPearson.upperBound(failures: 0, trials: impostor.count))
            if limit < operatingPoints.last?.falseMatchRate ?? 1,
               let point = Self.operatingPoint(at: limit, genuine: sortedGenuine, impostor: sortedImpostor)
            {
                operatingPoints.append(point)
            }
        }
    }

    /// `value` rounded up to two significant digits.
    static func roundedUp(_ value: Double) -> Double {
        guard value > 0 else { return value }
        let scale = pow(10, 1 - floor(log10(value)))
        return (value * scale).rounded(.up) / scale
    }

    static func quantileTable(_ sorted: [Double]) -> [String: Double] {
        guard !sorted.isEmpty else { return [:] }
        return Dictionary(uniqueKeysWithValues: quantiles.map { (Self.key($0), rounded(quantile($0, ofSorted: sorted))) })
    }

    static func key(_ q: Double) -> String { q == 0 ? "0" : q == 1 ? "1" : String(q) }

    static func rounded(_ value: Double) -> Double { (value * 1e6).rounded() / 1e6 }

    /// The `q` quantile of sorted values, linearly interpolated (Hyndman and Fan's type 7).
    public static func quantile(_ q: Double, ofSorted values: [Double]) -> Double {
        guard let first = values.first, let last = values.last else { return .nan }
        if q <= 0 { return first }
        if q >= 1 { return last }
        let position = q * Double(values.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, values.count - 1)
        return values[below] + (values[above] - values[below]) * (position - Double(below))
    }

    /// The lowest threshold whose false-match count keeps the FMR's 95 % upper bound within
    /// `rate`; nil when even no false match at all would not (too few impostor pairs).
    static func operatingPoint(at rate: Double, genuine: [Double], impostor: [Double]) -> OperatingPoint? {
        let n = impostor.count
        guard n > 0, ClopperPearson.upperBound(failures: 0, trials: n) <= rate else { return nil }
        // The most false matches the bound allows: the bound rises with the count, so bisect.
        var (allowed, tooMany) = (0, n)
        while tooMany - allowed > 1 {
            let middle = (allowed + tooMany) / 2
            if ClopperPearson.upperBound(failures: middle, trials: n) <= rate { allowed = middle } else { tooMany = middle }
        }
        // Just above the (allowed+1)-th highest impostor score, so at most `allowed` reach it;
        // ties among impostor scores can only lower the count.
        // Rounded up to 4 decimals, still above that score: a threshold operators can read.
        let above = impostor[n - 1 - allowed]
        var threshold = (above * 10_000).rounded(.up) / 10_000
        if threshold <= above { threshold += 0.0001 }
        let falseMatches = impostor.count(where: { $0 >= threshold })
        let misses = genuine.count(where: { $0 < threshold })
        return OperatingPoint(
            falseMatchRate: rate, threshold: threshold, falseMatches: falseMatches,
            observedFalseMatchRate: Double(falseMatches) / Double(n),
            falseMatchRateUpper95: ClopperPearson.upperBound(failures: falseMatches, trials: n),
            falseNonMatchRate: genuine.isEmpty ? .nan : Double(misses) / Double(genuine.count))
    }
}

/// The exact binomial confidence bound.
public enum ClopperPearson {
    /// The one-sided upper bound p at `confidence` on a rate seen as `failures` in `trials`:
    /// the p at which seeing `failures` or fewer has probability 1 − `confidence`.
    public static func upperBound(failures k: Int, trials n: Int, confidence: Double = 0.95) -> Double {
        guard n > 0, k < n else { return 1 }
        let alpha = 1 - confidence
        // Closed form for no failure: (1 − p)^n = α.
        if k == 0 { return 1 - pow(alpha, 1 / Double(n)) }
        // The binomial CDF falls as p rises: bisect for CDF(k; n, p) = α.
        var (low, high) = (Double(k) / Double(n), 1.0)
        for _ in 0..<80 {
            let middle = (low + high) / 2
            if binomialCDF(k, n, middle) > alpha { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// P(X ≤ k) for X ~ Binomial(n, p), summed in logarithms (n in the millions is fine).
    static func binomialCDF(_ k: Int, _ n: Int, _ p: Double) -> Double {
        guard p > 0 else { return 1 }
        guard p < 1 else { return k >= n ? 1 : 0 }
        let (logP, logQ) = (log(p), log1p(-p))
        let logN = logFactorial(n)
        var sum = 0.0
        for i in 0...k {
            sum += exp(logN - logFactorial(i) - logFactorial(n - i) + Double(i) * logP + Double(n - i) * logQ)
        }
        return min(1, sum)
    }

    /// log(n!), through the log-gamma function.
    static func logFactorial(_ n: Int) -> Double {
        let x: Double = Double(n) + 1
        return Foundation.lgamma(x)
    }
}
