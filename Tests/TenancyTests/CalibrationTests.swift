// Calibration on synthetic pairs with known answers: Clopper–Pearson bounds against closed forms
// and an independent computation, quantiles, and the operating points' counts.

import Foundation
import Testing
import Tenancy

struct CalibrationTests {
    @Test func theUpperBoundWithNoFailureIsTheClosedForm() {
        for n in [1, 10, 1_000, 1_000_000] {
            let expected = 1 - pow(0.05, 1 / Double(n))
            #expect(abs(ClopperPearson.upperBound(failures: 0, trials: n) - expected) < 1e-12, "n = \(n)")
        }
        // The "rule of three": about 3/n for large n.
        #expect(abs(ClopperPearson.upperBound(failures: 0, trials: 1_000_000) * 1_000_000 - 2.9957) < 1e-3)
    }

    @Test func theUpperBoundMatchesAnExactBinomialSolution() {
        // Solved independently (Python, exact binomial sums, bisection): 1 of 10 → 0.394163.
        #expect(abs(ClopperPearson.upperBound(failures: 1, trials: 10) - 0.3941633) < 1e-6)
        // 4 and 5 false matches among 1,000 pairs: 0.0091300 and 0.0104841.
        #expect(abs(ClopperPearson.upperBound(failures: 4, trials: 1_000) - 0.0091300) < 1e-6)
        #expect(abs(ClopperPearson.upperBound(failures: 5, trials: 1_000) - 0.0104841) < 1e-6)
        // All failures: no bound below 1.
        #expect(ClopperPearson.upperBound(failures: 10, trials: 10) == 1)
    }

    @Test func theBoundRisesWithTheFailuresAndFallsWithTheTrials() {
        let byFailures = (0..<20).map { ClopperPearson.upperBound(failures: $0, trials: 500) }
        #expect(zip(byFailures, byFailures.dropFirst()).allSatisfy { $0 < $1 })
        let byTrials = [10, 100, 1_000, 10_000].map { ClopperPearson.upperBound(failures: 3, trials: $0) }
        #expect(zip(byTrials, byTrials.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func quantilesInterpolateBetweenOrderedValues() {
        #expect(Calibration.quantile(0.5, ofSorted: [1, 2, 3, 4]) == 2.5)
        #expect(Calibration.quantile(0.25, ofSorted: [0, 10]) == 2.5)
        #expect(Calibration.quantile(0, ofSorted: [3, 7]) == 3 && Calibration.quantile(1, ofSorted: [3, 7]) == 7)
    }

    @Test func operatingPointsClaimNoMoreThanTheImpostorPairsHold() throws {
        // 1,000 impostor pairs scoring 0.00005 … 0.09995 evenly, 100 genuine at 0.05 … 0.149.
        let impostor = (0..<1_000).map { (Double($0) + 0.5) / 10_000 }
        let genuine = (0..<100).map { 0.05 + Double($0) / 1_000 }
        let calibration = Calibration(photos: [], persons: 2, genuine: genuine, impostor: impostor)
        #expect(calibration.impostorPairs == 1_000 && calibration.genuinePairs == 100)
        #expect(calibration.impostor["0.5"] == 0.05)
        // FMR 0.1: 84 false matches keep the bound within it (85 would not); FMR 0.01: 4.
        let points = Dictionary(uniqueKeysWithValues: calibration.operatingPoints.map { ($0.falseMatchRate, $0) })
        let tenth = try #require(points[0.1])
        #expect(tenth.falseMatches == 84 && tenth.falseMatchRateUpper95 <= 0.1)
        #expect(impostor.count(where: { $0 >= tenth.threshold }) == 84)
        let hundredth = try #require(points[0.01])
        #expect(hundredth.falseMatches == 4 && hundredth.observedFalseMatchRate == 0.004)
        #expect(abs(hundredth.threshold - 0.0996) < 1e-12)
        // Genuine pairs below 0.0996: 0.050 … 0.099, 50 of 100.
        #expect(hundredth.falseNonMatchRate == 0.5)
        // 1,000 pairs cannot claim 1e-3 (no false match still bounds it at 0.003): the strictest
        // point is that bound, above every impostor score.
        #expect(points[0.001] == nil)
        let limit = try #require(calibration.operatingPoints.last)
        #expect(limit.falseMatchRate == 0.003 && limit.falseMatches == 0 && limit.threshold > impostor.max() ?? 1)
    }
}
