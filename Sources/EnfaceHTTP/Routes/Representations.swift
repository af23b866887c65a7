// How resources look on the wire: one typed answer per resource (dates RFC 3339, ids lowercase).

import FaceService
import Foundation
import Hummingbird
import Storage
import Tenancy
import WireFormats

/// A tenant as both planes show it: the tenant, and the threshold a 1:1 match needs now, with
/// where it came from (a 1:N threshold set as a rate also depends on the gallery's size, which
/// each search answer names).
struct TenantAnswer: ResponseEncodable {
    let tenant: Tenant
    let effective: Threshold

    init(_ tenant: Tenant, models: ModelCatalog) {
        self.tenant = tenant
        self.effective = models.verifyThreshold(for: tenant)
    }

    enum Extra: String, CodingKey { case effectiveMatchThreshold, effectiveThresholdSource }

    func encode(to encoder: any Encoder) throws {
        try tenant.encode(to: encoder)
        var container = encoder.container(keyedBy: Extra.self)
        try container.encode(effective.value, forKey: .effectiveMatchThreshold)
        try container.encode(effective.source, forKey: .effectiveThresholdSource)
    }
}

/// The model catalogue: what each model's embeddings are, whether photos can stand for them, and
/// the threshold a tenant of the model starts with and where that number comes from.
struct ModelList: ResponseEncodable {
    struct Model: Encodable {
        var id: String
        var name: String
        var dimension: Int
        var metric: String
        /// The in-process extractor that turns photos into this model's embeddings (none: send
        /// embeddings).
        var extractor: String?
        var defaultMatchThreshold: Double
        var thresholdSource: String
        var operatingPoints: [ModelManifest.OperatingPoint]
        var source: String
        var licence: String
    }

    var models: [Model]
    /// The caller's tenant's model (tenant plane only).
    var tenantModel: String?

    init(_ catalog: ModelCatalog, tenantModel: String? = nil) {
        models = catalog.models.values.sorted { $0.id < $1.id }.map { manifest in
            Model(
                id: manifest.id, name: manifest.name, dimension: manifest.dimension, metric: manifest.metric,
                extractor: manifest.extractor, defaultMatchThreshold: manifest.defaultMatchThreshold,
                thresholdSource: manifest.thresholdSource, operatingPoints: manifest.operatingPoints, source: manifest.source,
                licence: manifest.licence)
        }
        self.tenantModel = tenantModel
    }
}

/// GET /admin/v1/row-level-security: the live catalog's fence between tenants.
struct SecurityCatalogAnswer: ResponseEncodable {
    let catalog: SecurityCatalog

    func encode(to encoder: any Encoder) throws { try catalog.encode(to: encoder) }
}

/// A tenant's keys, never their text.
struct KeyList: ResponseEncodable {
    var keys: [APIKeyInfo]
}

/// A new key: its text, shown this once, and its record.
struct CreatedKeyAnswer: ResponseEncodable {
    var apiKey: String
    var key: APIKeyInfo
}

/// A new tenant (pending), its first key's text, shown once, and that key's id and prefix.
struct CreatedTenantAnswer: ResponseEncodable {
    struct KeyReference: Encodable {
        var id: String
        var prefix: String
    }

    var tenant: TenantAnswer
    var apiKey: String
    var key: KeyReference
}

/// A tenant's usage by day, flat: `{"day": …, "requests": …, …}`.
struct UsageDays: ResponseEncodable {
    struct Day: Encodable {
        let usage: UsageDay

        enum CodingKeys: String, CodingKey { case day }

        func encode(to encoder: any Encoder) throws {
            try usage.counts.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(usage.day, forKey: .day)
        }
    }

    var tenantId: String
    var from: String
    var to: String
    var days: [Day]
}

/// One audit event as the operator plane lists it.
struct AuditEventAnswer: Encodable {
    let record: RecordedAuditEvent

    enum CodingKeys: String, CodingKey { case id, tenantId, at, actor, action, target, outcome, detail }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id, forKey: .id)
        try container.encode(record.event.tenantID.lowercasedText, forKey: .tenantId)
        try container.encode(record.at, forKey: .at)
        try container.encode(record.event.actor, forKey: .actor)
        try container.encode(record.event.action, forKey: .action)
        try container.encode(record.event.target, forKey: .target)  // null, not absent
        try container.encode(record.event.outcome.rawValue, forKey: .outcome)
        try container.encode(record.event.detail, forKey: .detail)
    }
}

/// GET /v1/tenant: the caller's tenant, its usage today, and what its administrator may change.
struct TenantOverview: ResponseEncodable {
    struct Usage: Encodable {
        var today: UsageCounts
        var requestsPerDay: Int64
        var requestsRemainingToday: Int64
    }

    struct SelfService: Encodable {
        var settings: [String]
        var maxFacesPerPerson: Int
        var searchLimitMax: Int
    }

    var tenant: TenantAnswer
    var usage: Usage
    var selfService: SelfService
}

/// Reading query parameters strictly: a bad value is a 422 naming the parameter.
struct Query {
    let parameters: [String: String]

    init(_ request: Hummingbird.Request) {
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { parameters[String(name)] = String(value) }
        self.parameters = parameters
    }

    func limit(default value: Int, maximum: Int, name: String = "limit") throws -> Int {
        guard let text = parameters[name] else { return value }
        guard let number = Int(text), (1...maximum).contains(number) else {
            throw RequestError.invalidQuery(
                FieldError(pointer: "?\(name)", code: "out_of_range", detail: "must be a whole number from 1 to \(maximum)"))
        }
        return number
    }

    func date(_ name: String) throws -> Date? {
        guard let text = parameters[name] else { return nil }
        guard let date = RFC3339.date(text) else {
            throw RequestError.invalidQuery(
                FieldError(pointer: "?\(name)", code: "invalid_format", detail: "must be an RFC 3339 time from 1970 to 9999"))
        }
        return date
    }

    func day(_ name: String) throws -> String? {
        guard let text = parameters[name] else { return nil }
        guard text.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil else {
            throw RequestError.invalidQuery(FieldError(pointer: "?\(name)", code: "invalid_format", detail: "must be a date, yyyy-MM-dd"))
        }
        return text
    }

    func uuid(_ name: String) throws -> UUID? {
        guard let text = parameters[name] else { return nil }
        guard let id = UUID(uuidString: text) else {
            throw RequestError.invalidQuery(FieldError(pointer: "?\(name)", code: "invalid_format", detail: "must be a UUID"))
        }
        return id
    }

    func flag(_ name: String) throws -> Bool {
        switch parameters[name] {
        case nil, "false": return false
        case "true": return true
        default: throw RequestError.invalidQuery(FieldError(pointer: "?\(name)", code: "invalid_format", detail: "must be true or false"))
        }
    }

    /// A free-text parameter (a filter), or nil when absent. U+0000 is refused: no PostgreSQL
    /// text can hold it, and a filter bound with it was a 500 (found by the fuzzer).
    func text(_ name: String, maximumLength: Int = 200) throws -> String? {
        guard let text = parameters[name] else { return nil }
        guard !text.unicodeScalars.contains("\u{0}"), text.count <= maximumLength else {
            throw RequestError.invalidQuery(
                FieldError(pointer: "?\(name)", code: "invalid_value", detail: "must be text of at most \(maximumLength) characters, without U+0000"))
        }
        return text
    }

    subscript(_ name: String) -> String? { parameters[name] }
}

extension EnfaceRequestContext {
    /// A path segment as the client meant it: percent-decoded (a client library that encodes `@`
    /// sends `a%40b.example`), or nil when the segment is missing or its encoding is broken.
    /// A segment holding U+0000 (`%00`) names nothing either: no PostgreSQL text can hold it.
    func pathParameter(_ name: String) -> String? {
        guard let segment = parameters.get(name)?.removingPercentEncoding, !segment.unicodeScalars.contains("\u{0}") else { return nil }
        return segment
    }

    /// `value` as one path segment of a link: every byte but RFC 3986's unreserved characters
    /// percent-encoded, so what `pathParameter` reads back is `value` again.
    static func pathSegment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// A path parameter that must be a UUID; anything else names nothing, so it is a 404.
    func uuid(_ name: String, notFound: TenancyError = .tenantNotFound) throws -> UUID {
        guard let text = pathParameter(name), let id = UUID(uuidString: text) else { throw notFound }
        return id
    }
}

/// GET …/calibration: the tenant's gallery calibration (200), or its job's progress (202).
struct CalibrationAnswer: ResponseGenerator {
    let outcome: GalleryCalibrations.Outcome

    struct Running: Encodable {
        var status = "running"
        var progress: Double
        var startedAt: Date
    }

    struct Ready: Encodable {
        let calibration: GalleryCalibration

        enum Extra: String, CodingKey { case status }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Extra.self)
            try container.encode("ready", forKey: .status)
            try calibration.encode(to: encoder)
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch outcome {
        case .ready(let calibration):
            return try EditedResponse(response: JSONBody(Ready(calibration: calibration))).response(from: request, context: context)
        case .running(let progress, let startedAt):
            return try EditedResponse(
                status: .accepted, headers: [.retryAfter: "2"],
                response: JSONBody(Running(progress: (progress * 1_000).rounded() / 1_000, startedAt: startedAt))
            ).response(from: request, context: context)
        }
    }
}

/// Any Encodable as a JSON answer.
struct JSONBody<Value: Encodable & Sendable>: ResponseEncodable {
    let value: Value

    init(_ value: Value) { self.value = value }

    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// PATCH …?dryRun=true: the tenant as the change would leave it, and what its thresholds would
/// have done to the last days' decisions; nothing is written.
struct DryRunAnswer: ResponseEncodable {
    let dryRun = true
    let tenant: TenantAnswer
    let effect: ThresholdEffect
}
