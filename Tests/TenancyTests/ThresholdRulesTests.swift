// Thresholds from rates, histograms and a gallery's estimates, on values with known answers.

import Foundation
import Testing
import WireFormats

@testable import Tenancy

struct ThresholdRulesTests {
    /// dlib's measured points: FMR 0.1 → 0.8647, 0.01 → 0.8927, 0.002 → 0.9072.
    static let curve = FalseMatchCurve(points: [
        .init(rate: 0.002, threshold: 0.9072), .init(rate: 0.1, threshold: 0.8647), .init(rate: 0.01, threshold: 0.8927),
    ])!

    @Test func aRateBetweenPointsIsOnTheLineInLogRate() {
        #expect(Self.curve.threshold(at: 0.01) == (0.8927, false))
        // Halfway in log between 0.1 and 0.01.
        let middle = Self.curve.threshold(at: pow(10, -1.5))
        #expect(abs(middle.value - (0.8647 + 0.8927) / 2) < 1e-12 && !middle.extrapolated)
        // Looser than measured: the loosest point, never a lower threshold.
        #expect(Self.curve.threshold(at: 0.3) == (0.8647, false))
    }

    @Test func aRateBeyondTheStrictestPointIsExtrapolatedAndCappedAtOne() {
        let slope = (0.9072 - 0.8927) / (log10(0.002) - log10(0.01))
        let beyond = Self.curve.threshold(at: 1e-5)
        #expect(abs(beyond.value - (0.9072 + slope * (-5 - log10(0.002)))) < 1e-12 && beyond.extrapolated)
        #expect(Self.curve.threshold(at: 1e-300) == (1, true))
        #expect(FalseMatchCurve(points: []) == nil && FalseMatchCurve(points: [.init(rate: 0, threshold: 0.9)]) == nil)
    }

    @Test func theIdentificationRateAsksForAStricterComparisonAsTheGalleryGrows() {
        #expect(abs(FalseMatchCurve.falseMatchRate(fpir: 0.01, comparisons: 1) - 0.01) < 1e-15)
        // 1 − (1 − 0.01)^(1/1000), computed the long way.
        #expect(abs(FalseMatchCurve.falseMatchRate(fpir: 0.01, comparisons: 1_000) - (1 - pow(0.99, 0.001))) < 1e-15)
        let thresholds = [1, 10, 100, 10_000].map { Self.curve.threshold(at: FalseMatchCurve.falseMatchRate(fpir: 0.01, comparisons: $0)).value }
        #expect(zip(thresholds, thresholds.dropFirst()).allSatisfy { $0 < $1 }, "\(thresholds)")
        // FPIR ≈ N·FMR for small rates: over a million comparisons FMR ≈ 1e-8, no float underflow.
        #expect(abs(FalseMatchCurve.falseMatchRate(fpir: 0.01, comparisons: 1_000_000) / 1.005e-8 - 1) < 1e-3)
    }

    @Test func settingsTakeANumberOrARateNeverBoth() throws {
        let rate = try TenantSettings(matchThreshold: 0.9).applying(["falseMatchRate": 0.001])
        #expect(rate.matchThreshold == nil && rate.falseMatchRate == 0.001)
        let number = try rate.applying(["matchThreshold": 0.95])
        #expect(number.matchThreshold == 0.95 && number.falseMatchRate == nil && number.falsePositiveIdentificationRate == nil)
        #expect(throws: ValidationFailure(pointer: "/settings/falseMatchRate", code: "conflict", detail: "set matchThreshold or a rate, not both")) {
            try TenantSettings().applying(["matchThreshold": 0.9, "falseMatchRate": 0.01])
        }
        #expect(throws: ValidationFailure.self) { try TenantSettings().applying(["falsePositiveIdentificationRate": 0]) }
        #expect(throws: ValidationFailure.self) { try TenantSettings().applying(["duplicateCheck": "sometimes"]) }
        #expect(try TenantSettings().applying(["duplicateCheck": "refuse"]).duplicateCheck == .refuse)
        #expect(TenantSettings().duplicateCheck == .warn)
        // Stored before the fields existed: read as their defaults.
        let old = try JSONDecoder().decode(TenantSettings.self, from: Data(#"{"matchThreshold": 0.5}"#.utf8))
        #expect(old.duplicateCheck == .warn && old.falseMatchRate == nil)
    }

    @Test func histogramsBinScoresOnFixedEdgesAndTrimOnTheWire() throws {
        var histogram = ScoreHistogram([0.905, 0.91, 0.93, 0.999, 1, -1, .nan])
        #expect(histogram.total == 6)
        #expect(histogram.count(atLeast: 0.93) == 3 && histogram.count(atLeast: 0.91) == 4 && histogram.count(atLeast: -1) == 6)
        histogram = ScoreHistogram([0.715, 0.735, 0.735])
        let wire = try JSONValue(encoding: histogram)
        #expect(wire == ["start": 0.71, "binWidth": 0.01, "counts": [1, 0, 2]], "\(wire.canonical)")
        #expect(try JSONDecoder().decode(ScoreHistogram.self, from: Data(wire.canonical.utf8)) == histogram)
        #expect(ScoreHistogram(counts: [1]) == nil)
        // Every edge, typed as a person types it, starts its own bin.
        for edge in 0...199 {
            #expect(ScoreHistogram.bin(Double(edge - 100) / 100) == edge, "edge \(Double(edge - 100) / 100)")
        }
        #expect((ScoreHistogram([0.5]) + ScoreHistogram([0.5, -0.5])).count(atLeast: 0.5) == 2)
    }

    @Test func aGallerysEstimatesCountItsScores() {
        // 10 genuine pairs (2 below 0.6), 5 persons' best impostors (1 at or above 0.6).
        let calibration = GalleryCalibration(
            genuine: [0.5, 0.55, 0.6, 0.7, 0.7, 0.8, 0.8, 0.9, 0.9, 0.95], impostor: [0.1, 0.2, 0.3, 0.4, 0.65],
            nearest: [("a", "b", 0.65), ("b", "a", 0.65), ("c", "a", 0.4)], persons: 5, faces: 12, exact: true,
            threshold: Threshold(value: 0.6, source: "matchThreshold"), computedAt: Date(timeIntervalSince1970: 0))
        let current = calibration.estimates[0]
        #expect(current.threshold == 0.6 && current.falseNonMatchRate == 0.2 && current.falsePositiveIdentificationRate == 0.2)
        // 1 − (1 − 0.2)^(1/c): 12 faces of 5 persons, 2.4 faces each against 9.6 others', c ≈ 23.
        #expect(abs((current.falseMatchRate ?? 0) - (1 - pow(0.8, 1.0 / 23))) < 1e-12)
        #expect(calibration.estimates.dropFirst().map(\.threshold) == [0.55, 0.58, 0.59, 0.61, 0.62, 0.65])
        // 1 of 5: the exact bound; many: Wilson's, close to the exact one.
        #expect(current.falsePositiveIdentificationRateUpper95 == ClopperPearson.upperBound(failures: 1, trials: 5))
        let (exact, wilson) = (ClopperPearson.upperBound(failures: 60, trials: 5_000), GalleryCalibration.upperBound(60, of: 5_000))
        #expect(wilson > 0.012 && abs(wilson - exact) / exact < 0.03, "Wilson \(wilson), exact \(exact)")
        #expect(calibration.nearDuplicates == [.init(personA: "a", personB: "b", score: 0.65)])
        #expect(calibration.method == "exact" && calibration.measuredPersons == 3 && calibration.genuine.quantiles["0.5"] == 0.75)
    }
}
