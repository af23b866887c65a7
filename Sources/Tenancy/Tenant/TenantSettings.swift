// What operators (and, within their plan, tenants) tune.

import Foundation
import WireFormats

/// What an enroll does when its face matches another person at or above the threshold: nothing,
/// name them in its answer (`possibleDuplicates`), or refuse (409 `possible_duplicate`).
public enum DuplicateCheck: String, Sendable, Codable, CaseIterable {
    case off, warn, refuse
}

public struct TenantSettings: Sendable, Codable, Equatable {
    /// Cosine similarity at or above which a probe matches; nil means a rate's, or the model's
    /// default. Setting it clears the rates; setting a rate clears it.
    public var matchThreshold: Double?
    /// 1:1 (verify, compare): the false-match rate the threshold is read at, off the model's
    /// operating points; 1:N too unless `falsePositiveIdentificationRate` is set.
    public var falseMatchRate: Double?
    /// 1:N (search): the share of searches for someone not enrolled that may match anyone; the
    /// threshold rises with the gallery (FMR = 1 − (1 − FPIR)^(1/persons)).
    public var falsePositiveIdentificationRate: Double?
    /// What an enroll does when its face matches another person at or above the threshold.
    public var duplicateCheck: DuplicateCheck
    public var maxFacesPerPerson: Int
    /// Largest `limit` a search may ask for.
    public var searchLimitMax: Int
    /// Feature flags, by name.
    public var features: [String: Bool]
    /// Browser origins allowed to call the data plane (CORS), e.g. `https://app.example.com`.
    public var allowedOrigins: [String]
    /// Whether `faces.template` keeps the tenant-keyed rotation of each template (for pgvector
    /// search while a shard is cold); off, only the sealed template is stored.
    public var searchableTemplates: Bool
    /// Photos: the face detector's score below which a found face is ignored (dlib's HOG: real
    /// faces scored 0.6 and more here, false ones under 0.3).
    public var minDetectionScore: Double
    /// Photos: the narrowest face box, in pixels, that is kept.
    public var minFaceSize: Int
    /// Photos: the most faces of one photo described and answered (the best-scoring ones). Each
    /// face beyond the first counts as one more request against the tenant's rate limit.
    public var maxFacesPerPhoto: Int

    public init(
        matchThreshold: Double? = nil, falseMatchRate: Double? = nil, falsePositiveIdentificationRate: Double? = nil,
        duplicateCheck: DuplicateCheck = .warn, maxFacesPerPerson: Int = 3, searchLimitMax: Int = 20,
        features: [String: Bool] = [:], allowedOrigins: [String] = [], searchableTemplates: Bool = true,
        minDetectionScore: Double = 0.5, minFaceSize: Int = 40, maxFacesPerPhoto: Int = 10
    ) {
        self.matchThreshold = matchThreshold
        self.falseMatchRate = falseMatchRate
        self.falsePositiveIdentificationRate = falsePositiveIdentificationRate
        self.duplicateCheck = duplicateCheck
        self.maxFacesPerPerson = maxFacesPerPerson
        self.searchLimitMax = searchLimitMax
        self.features = features
        self.allowedOrigins = allowedOrigins
        self.searchableTemplates = searchableTemplates
        self.minDetectionScore = minDetectionScore
        self.minFaceSize = minFaceSize
        self.maxFacesPerPhoto = maxFacesPerPhoto
    }

    /// Settings stored before a field existed read as its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TenantSettings()
        matchThreshold = try container.decodeIfPresent(Double.self, forKey: .matchThreshold)
        falseMatchRate = try container.decodeIfPresent(Double.self, forKey: .falseMatchRate)
        falsePositiveIdentificationRate = try container.decodeIfPresent(Double.self, forKey: .falsePositiveIdentificationRate)
        duplicateCheck = try container.decodeIfPresent(DuplicateCheck.self, forKey: .duplicateCheck) ?? defaults.duplicateCheck
        maxFacesPerPerson = try container.decodeIfPresent(Int.self, forKey: .maxFacesPerPerson) ?? defaults.maxFacesPerPerson
        searchLimitMax = try container.decodeIfPresent(Int.self, forKey: .searchLimitMax) ?? defaults.searchLimitMax
        features = try container.decodeIfPresent([String: Bool].self, forKey: .features) ?? defaults.features
        allowedOrigins = try container.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? defaults.allowedOrigins
        searchableTemplates = try container.decodeIfPresent(Bool.self, forKey: .searchableTemplates) ?? defaults.searchableTemplates
        minDetectionScore = try container.decodeIfPresent(Double.self, forKey: .minDetectionScore) ?? defaults.minDetectionScore
        minFaceSize = try container.decodeIfPresent(Int.self, forKey: .minFaceSize) ?? defaults.minFaceSize
        maxFacesPerPhoto = try container.decodeIfPresent(Int.self, forKey: .maxFacesPerPhoto) ?? defaults.maxFacesPerPhoto
    }

    /// Self-service ceilings of a plan.
    public struct Limits: Sendable, Equatable {
        public var maxFacesPerPerson: Int
        public var searchLimitMax: Int
    }

    public static let fields: Set<String> = [
        "matchThreshold", "falseMatchRate", "falsePositiveIdentificationRate", "duplicateCheck", "maxFacesPerPerson", "searchLimitMax", "features", "allowedOrigins", "searchableTemplates",
        "minDetectionScore", "minFaceSize", "maxFacesPerPhoto",
    ]

    /// These settings with `patch` (a JSON object) applied. `allowed` narrows which fields may be
    /// set (a tenant's own administrators, by plan) and `limits` caps them; operators pass nil.
    /// `"matchThreshold": null` returns to a rate's threshold, or the model's default.
    public func applying(
        _ patch: JSONValue, pointer: String = "/settings", allowed: Set<String>? = nil, limits: Limits? = nil
    ) throws(ValidationFailure) -> TenantSettings {
        var reader = FieldReader(patch, pointer: pointer, allowed: Self.fields)
        var result = self
        if let allowed {
            for key in reader.object.keys.sorted() where Self.fields.contains(key) && !allowed.contains(key) {
                reader.fail(key, "not_allowed", "cannot be changed on this plan; ask your operator")
            }
        }
        applyThresholds(&reader, to: &result)
        if let text = reader.string("duplicateCheck") {
            if let check = DuplicateCheck(rawValue: text) {
                result.duplicateCheck = check
            } else {
                reader.fail("duplicateCheck", "invalid_value", "must be off, warn or refuse")
            }
        }
        if let value = reader.integer("maxFacesPerPerson", in: 1...(limits?.maxFacesPerPerson ?? 1_000)) {
            result.maxFacesPerPerson = value
        }
        if let value = reader.integer("searchLimitMax", in: 1...(limits?.searchLimitMax ?? 10_000)) {
            result.searchLimitMax = value
        }
        if let value = reader.bool("searchableTemplates") { result.searchableTemplates = value }
        if let value = reader.number("minDetectionScore", in: 0...5) { result.minDetectionScore = value }
        if let value = reader.integer("minFaceSize", in: 20...4_000) { result.minFaceSize = value }
        if let value = reader.integer("maxFacesPerPhoto", in: 1...64) { result.maxFacesPerPhoto = value }
        if let value = reader.value("features") {
            if case .object(let flags) = value, flags.count <= 64 {
                var features: [String: Bool] = [:]
                for (name, flag) in flags.sorted(by: { $0.key < $1.key }) {
                    let at = FieldError.pointer(FieldError.pointer(pointer, "features"), name)
                    if name.wholeMatch(of: /[a-z][A-Za-z0-9]{0,63}/) == nil {
                        reader.record([FieldError(pointer: at, code: "invalid_format", detail: "feature names are camelCase letters and digits")])
                    } else if case .bool(let enabled) = flag {
                        features[name] = enabled
                    } else {
                        reader.record([FieldError(pointer: at, code: "wrong_type", detail: "must be true or false")])
                    }
                }
                result.features = features
            } else {
                reader.fail("features", "wrong_type", "must be an object of at most 64 flags")
            }
        }
        if let value = reader.value("allowedOrigins") {
            if case .array(let items) = value, items.count <= 50 {
                var origins: [String] = []
                for (index, item) in items.enumerated() {
                    let at = FieldError.pointer(FieldError.pointer(pointer, "allowedOrigins"), String(index))
                    if case .string(let origin) = item, Self.isOrigin(origin) {
                        origins.append(origin)
                    } else {
                        reader.record([FieldError(pointer: at, code: "invalid_format", detail: "must be an origin such as https://app.example.com")])
                    }
                }
                result.allowedOrigins = origins
            } else {
                reader.fail("allowedOrigins", "wrong_type", "must be an array of at most 50 origins")
            }
        }
        try reader.check()
        return result
    }

    /// A number, or a rate to read the number at: whichever is set clears the other, since only
    /// one can decide; both at once is a conflict.
    private func applyThresholds(_ reader: inout FieldReader, to result: inout TenantSettings) {
        let rates = ["falseMatchRate", "falsePositiveIdentificationRate"]
        if reader.contains("matchThreshold"), let rate = rates.first(where: reader.contains) {
            reader.fail(rate, "conflict", "set matchThreshold or a rate, not both")
            return
        }
        if reader.object["matchThreshold"] == .null {
            result.matchThreshold = nil
        } else if let value = reader.number("matchThreshold", in: 0...1) {
            result.matchThreshold = value
            result.falseMatchRate = nil
            result.falsePositiveIdentificationRate = nil
        }
        let range = 1e-12...0.5
        for (name, path) in [
            ("falseMatchRate", \TenantSettings.falseMatchRate),
            ("falsePositiveIdentificationRate", \TenantSettings.falsePositiveIdentificationRate),
        ] {
            if reader.object[name] == .null {
                result[keyPath: path] = nil
            } else if let value = reader.number(name, in: range) {
                result[keyPath: path] = value
                result.matchThreshold = nil
            }
        }
    }

    /// scheme://host[:port], nothing more (no path, no wildcard).
    public static func isOrigin(_ text: String) -> Bool {
        guard text.count <= 253, let components = URLComponents(string: text),
              let scheme = components.scheme, ["https", "http"].contains(scheme),
              let host = components.host, !host.isEmpty, !host.contains("*"),
              components.path.isEmpty, components.query == nil, components.fragment == nil,
              components.user == nil
        else { return false }
        return true
    }
}
