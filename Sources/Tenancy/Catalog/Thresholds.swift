// The threshold a tenant's match needs, and where it came from: a number the tenant set, a
// false-match rate (1:1) or a false-positive identification rate (1:N, for the gallery's size)
// read off its model's operating points, or the model's default.

import Foundation
import WireFormats

/// A threshold and its provenance, as answers name it (`"fpir=0.001 at 8,213 persons"`).
public struct Threshold: Sendable, Equatable {
    public var value: Double
    public var source: String

    public init(value: Double, source: String) {
        self.value = value
        self.source = source
    }

    /// The stricter of this and a score the request asks for.
    public func atLeast(minScore: Double?) -> Threshold {
        guard let minScore, minScore > value else { return self }
        return Threshold(value: minScore, source: "minScore")
    }
}

/// A model's thresholds at false-match rates: its operating points (measured by `enface
/// calibrate`, else published in its manifest), joined in log(FMR).
public struct FalseMatchCurve: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var rate: Double
        public var threshold: Double
    }

    /// Loosest first: rates falling, thresholds rising.
    public let points: [Point]

    /// Nil for a model with no operating point.
    public init?(_ manifest: ModelManifest) {
        let measured = manifest.calibration?.operatingPoints.map { Point(rate: $0.falseMatchRate, threshold: $0.threshold) } ?? []
        let published = manifest.operatingPoints.map { Point(rate: $0.falseAcceptRate, threshold: $0.threshold) }
        self.init(points: measured.isEmpty ? published : measured)
    }

    public init?(points: [Point]) {
        let usable = points.filter { $0.rate > 0 && $0.rate < 1 && $0.threshold.isFinite }.sorted { $0.rate > $1.rate }
        guard !usable.isEmpty else { return nil }
        self.points = usable
    }

    /// The threshold at false-match rate `rate`: between two points, on the line joining them in
    /// log(FMR); looser than the loosest point, that point's (never looser than measured); stricter
    /// than the strictest, on the line through the last two (an exponential impostor tail, which
    /// over-states a Gaussian's threshold: errs strict), at most 1; with one point only, that
    /// point's threshold. `extrapolated` says when the rate is beyond the strictest point.
    public func threshold(at rate: Double) -> (value: Double, extrapolated: Bool) {
        guard let loosest = points.first, let strictest = points.last else { return (1, true) }
        if rate >= loosest.rate { return (loosest.threshold, false) }
        let x = log10(rate)
        for (looser, stricter) in zip(points, points.dropFirst()) where rate >= stricter.rate {
            return (Self.line(looser, stricter, at: x), false)
        }
        // One point gives no slope to go on: its threshold, said to be beyond what was measured.
        guard points.count > 1 else { return (strictest.threshold, true) }
        let value = Self.line(points[points.count - 2], strictest, at: x)
        return (min(1, max(strictest.threshold, value)), true)
    }

    private static func line(_ a: Point, _ b: Point, at x: Double) -> Double {
        let (xa, xb) = (log10(a.rate), log10(b.rate))
        guard xa != xb else { return max(a.threshold, b.threshold) }
        if x == xb { return b.threshold }
        return a.threshold + (b.threshold - a.threshold) * (x - xa) / (xb - xa)
    }

    /// The false-match rate per comparison that gives `fpir` over `comparisons` of them:
    /// FPIR = 1 − (1 − FMR)^N, so FMR = 1 − (1 − FPIR)^(1/N).
    public static func falseMatchRate(fpir: Double, comparisons: Int) -> Double {
        -expm1(log1p(-fpir) / Double(max(1, comparisons)))
    }
}

extension ModelCatalog {
    /// The threshold a 1:1 decision (verify, compare) needs for `tenant`.
    public func verifyThreshold(for tenant: Tenant) -> Threshold {
        let settings = tenant.settings
        if let value = settings.matchThreshold { return Threshold(value: value, source: "matchThreshold") }
        if let rate = settings.falseMatchRate {
            guard let curve = curve(tenant.model) else { return defaultThreshold(tenant, ignoring: "falseMatchRate") }
            return Self.threshold(curve, rate: rate, source: "fmr=\(Self.rate(rate))")
        }
        return defaultThreshold(tenant)
    }

    /// The threshold a 1:N decision (search) needs for `tenant` holding `faces`: the
    /// false-positive identification rate's if it set one, else the 1:1 threshold. A search
    /// compares the probe with every face (a person matches through the best of theirs), so N is
    /// the faces, not the persons: with several faces a person, the stricter (and safer) count.
    public func searchThreshold(for tenant: Tenant, faces: Int) -> Threshold {
        let settings = tenant.settings
        guard settings.matchThreshold == nil, let fpir = settings.falsePositiveIdentificationRate else {
            return verifyThreshold(for: tenant)
        }
        guard let curve = curve(tenant.model) else { return defaultThreshold(tenant, ignoring: "falsePositiveIdentificationRate") }
        let rate = FalseMatchCurve.falseMatchRate(fpir: fpir, comparisons: faces)
        let gallery = faces.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
        return Self.threshold(curve, rate: rate, source: "fpir=\(Self.rate(fpir)) at \(gallery) \(faces == 1 ? "face" : "faces") (fmr=\(Self.rate(rate)))")
    }

    public func curve(_ model: String) -> FalseMatchCurve? {
        self.model(model).flatMap(FalseMatchCurve.init)
    }

    /// The model's default; `ignoring` names a rate set for a model with no operating point
    /// (refused when set through the API, but a provisioning file may have set it).
    func defaultThreshold(_ tenant: Tenant, ignoring rate: String? = nil) -> Threshold {
        let note = rate.map { " (\($0) ignored: the model has no operating points)" } ?? ""
        guard let manifest = model(tenant.model) else { return Threshold(value: 0.5, source: "default" + note) }
        return Threshold(value: manifest.defaultMatchThreshold, source: "default of \(manifest.id)" + note)
    }

    static func threshold(_ curve: FalseMatchCurve, rate: Double, source: String) -> Threshold {
        let (value, extrapolated) = curve.threshold(at: rate)
        let strictest = curve.points.last.map { Self.rate($0.rate) } ?? "?"
        return Threshold(
            value: (value * 10_000).rounded(.up) / 10_000,
            source: extrapolated ? source + ", extrapolated beyond the strictest point measured (fmr=\(strictest))" : source)
    }

    /// A rate as people write it, to two significant digits: 0.001, 0.0019, 1.2e-07.
    static func rate(_ value: Double) -> String {
        String(format: "%.2g", value)
    }

    /// Refuses rates for a model with no operating point to read them from.
    public func checkRates(_ settings: TenantSettings, model: String, pointer: String = "/settings") throws(ValidationFailure) {
        guard curve(model) == nil else { return }
        let set = [("falseMatchRate", settings.falseMatchRate), ("falsePositiveIdentificationRate", settings.falsePositiveIdentificationRate)]
        let errors = set.compactMap { name, value in
            value.map { _ in
                FieldError(
                    pointer: FieldError.pointer(pointer, name), code: "no_operating_points",
                    detail: "the model \(model) has no measured or published operating points; set matchThreshold")
            }
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
    }
}
