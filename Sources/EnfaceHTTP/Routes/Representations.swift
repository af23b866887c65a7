// How resources look on the wire: one function per resource, dates as RFC 3339.

import FaceService
import Foundation
import Tenancy
import WireFormats

enum Representation {
    static func tenant(_ tenant: Tenant, models: ModelCatalog) throws -> JSONValue {
        var value = try JSONValue(encoding: tenant).objectValue ?? [:]
        value["settings"] = try JSONValue(encoding: tenant.settings)
        // What a match needs, whichever way it was set: the tenant's or the model's default.
        value["effectiveMatchThreshold"] = .number(models.matchThreshold(for: tenant))
        return .object(value)
    }

    static func key(_ key: APIKeyInfo) throws -> JSONValue {
        try JSONValue(encoding: key)
    }

    static func event(_ record: RecordedAuditEvent) -> JSONValue {
        [
            "id": .number(Double(record.id)),
            "tenantId": .string(record.event.tenantID.uuidString.lowercased()),
            "at": .string(record.at.formatted(.iso8601)),
            "actor": .string(record.event.actor),
            "action": .string(record.event.action),
            "target": record.event.target.map(JSONValue.string) ?? .null,
            "outcome": .string(record.event.outcome.rawValue),
            "detail": record.event.detail,
        ]
    }

    static func usage(_ counts: UsageCounts) -> JSONValue { .object(usageFields(counts)) }

    static func usageFields(_ counts: UsageCounts) -> [String: JSONValue] {
        [
            "requests": .number(Double(counts.requests)), "enrolls": .number(Double(counts.enrolls)),
            "verifies": .number(Double(counts.verifies)), "searches": .number(Double(counts.searches)),
        ]
    }
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

    subscript(_ name: String) -> String? { parameters[name] }
}

import Hummingbird

extension EnfaceRequestContext {
    /// A path segment as the client meant it: percent-decoded (a client library that encodes `@`
    /// sends `a%40b.example`), or nil when the segment is missing or its encoding is broken.
    func pathParameter(_ name: String) -> String? {
        parameters.get(name)?.removingPercentEncoding
    }

    /// A path parameter that must be a UUID; anything else names nothing, so it is a 404.
    func uuid(_ name: String, notFound: TenancyError = .tenantNotFound) throws -> UUID {
        guard let text = pathParameter(name), let id = UUID(uuidString: text) else { throw notFound }
        return id
    }
}
