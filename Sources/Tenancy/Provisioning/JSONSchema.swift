// The part of JSON Schema (2020-12) our own schemas use, enough to check a file (or, in the
// tests, an HTTP answer against openapi.yaml) and point at every error. A schema using anything
// else, or a pattern that does not compile, is refused when loaded, not ignored.

import Foundation
import WireFormats

public struct JSONSchema: Sendable {
    let root: JSONValue
    /// Where `#/…` references point: the schema itself, or the document that holds it.
    let document: JSONValue

    /// Keywords this validator checks.
    static let assertions: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "pattern",
        "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "allOf", "anyOf", "oneOf", "$ref",
    ]
    /// Keywords that change nothing about what is valid (annotations and identifiers).
    static let annotations: Set<String> = [
        "$defs", "$schema", "$id", "title", "description", "format", "contentEncoding", "contentMediaType",
        "examples", "default", "deprecated", "readOnly", "writeOnly",
    ]

    /// A schema whose references point into itself.
    public init(_ root: JSONValue) throws(ValidationFailure) {
        try self.init(root, in: root)
    }

    /// A schema inside a larger document (a response's schema in an OpenAPI document): its
    /// references, and theirs, point into `document`, and are checked for support when loaded too.
    public init(_ schema: JSONValue, in document: JSONValue) throws(ValidationFailure) {
        self.root = schema
        self.document = document
        var unsupported: [FieldError] = []
        var followed: Set<String> = []
        collectUnsupported(schema, pointer: "", followed: &followed, into: &unsupported)
        if !unsupported.isEmpty { throw ValidationFailure(unsupported) }
    }

    /// Every place `instance` breaks the schema, by JSON pointer into the instance.
    public func errors(_ instance: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        check(instance, against: root, at: "", errors: &errors)
        return errors
    }

    private func check(_ instance: JSONValue, against schema: JSONValue, at pointer: String, errors: inout [FieldError]) {
        guard case .object(let rules) = schema else { return }
        let here = pointer.isEmpty ? "/" : pointer
        func fail(_ code: String, _ detail: String) {
            errors.append(FieldError(pointer: here, code: code, detail: detail))
        }
        if case .string(let reference)? = rules["$ref"] {
            if let target = resolve(reference) { check(instance, against: target, at: pointer, errors: &errors) }
            return
        }
        for part in rules["allOf"]?.arrayValue ?? [] {
            check(instance, against: part, at: pointer, errors: &errors)
        }
        if let options = rules["anyOf"]?.arrayValue, !options.contains(where: { matches(instance, $0, at: pointer) }) {
            fail("no_match", "matches none of \(options.count) alternatives")
        }
        if let options = rules["oneOf"]?.arrayValue {
            let matching = options.filter { matches(instance, $0, at: pointer) }.count
            if matching != 1 { fail("no_match", "matches \(matching) of \(options.count) alternatives, not exactly one") }
        }
        if let types = rules["type"] {
            let allowed: [String] =
                switch types {
                case .string(let type): [type]
                case .array(let items): items.compactMap { if case .string(let type) = $0 { type } else { nil } }
                default: []
                }
            let actual = instance.typeName
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !matches {
                fail("wrong_type", "must be \(allowed.joined(separator: " or ")), not \(actual)")
                return
            }
        }
        if case .array(let options)? = rules["enum"], !options.contains(instance) {
            fail("invalid_value", "must be one of \(options.map(\.canonical).joined(separator: ", "))")
        }
        if let constant = rules["const"], constant != instance {
            fail("invalid_value", "must be \(constant.canonical)")
        }
        switch instance {
        case .string(let text):
            if case .number(let minimum)? = rules["minLength"], Double(text.count) < minimum {
                fail("out_of_range", "must be at least \(Int(minimum)) characters long")
            }
            if case .number(let maximum)? = rules["maxLength"], Double(text.count) > maximum {
                fail("out_of_range", "must be at most \(Int(maximum)) characters long")
            }
            if case .string(let pattern)? = rules["pattern"], let regex = try? Regex(pattern), (try? regex.firstMatch(in: text)) == nil {
                // (A pattern that does not compile was refused when the schema was loaded.)
                fail("invalid_format", "must match \(pattern)")
            }
        case .number(let number):
            if case .number(let minimum)? = rules["minimum"], number < minimum { fail("out_of_range", "must be at least \(JSONValue.number(minimum).canonical)") }
            if case .number(let maximum)? = rules["maximum"], number > maximum { fail("out_of_range", "must be at most \(JSONValue.number(maximum).canonical)") }
        case .array(let items):
            if case .number(let minimum)? = rules["minItems"], Double(items.count) < minimum { fail("out_of_range", "needs at least \(Int(minimum)) items") }
            if case .number(let maximum)? = rules["maxItems"], Double(items.count) > maximum { fail("out_of_range", "takes at most \(Int(maximum)) items") }
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() {
                    check(item, against: itemSchema, at: FieldError.pointer(pointer, String(index)), errors: &errors)
                }
            }
        case .object(let fields):
            if case .array(let required)? = rules["required"] {
                for case .string(let name) in required where fields[name] == nil {
                    errors.append(FieldError(pointer: FieldError.pointer(pointer, name), code: "required", detail: "is required"))
                }
            }
            let properties = rules["properties"]?.objectValue ?? [:]
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
                let at = FieldError.pointer(pointer, name)
                if let property = properties[name] {
                    check(value, against: property, at: at, errors: &errors)
                } else if let additional = rules["additionalProperties"] {
                    if additional == .bool(false) {
                        errors.append(FieldError(pointer: at, code: "unknown_field", detail: "is not a known field"))
                    } else {
                        check(value, against: additional, at: at, errors: &errors)
                    }
                }
            }
        default:
            break
        }
    }

    private func matches(_ instance: JSONValue, _ schema: JSONValue, at pointer: String) -> Bool {
        var errors: [FieldError] = []
        check(instance, against: schema, at: pointer, errors: &errors)
        return errors.isEmpty
    }

    private func resolve(_ reference: String) -> JSONValue? { Self.resolve(reference, in: document) }

    /// `#/$defs/name` or `#/components/schemas/Name` style references (JSON pointers) within a document.
    public static func resolve(_ reference: String, in document: JSONValue) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node = document
        for token in reference.dropFirst(2).split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node.objectValue?[key] else { return nil }
            node = next
        }
        return node
    }

    private func collectUnsupported(
        _ schema: JSONValue, pointer: String, followed: inout Set<String>, into errors: inout [FieldError]
    ) {
        guard case .object(let rules) = schema else {
            if schema != .bool(true), schema != .bool(false) {
                errors.append(FieldError(pointer: pointer.isEmpty ? "/" : pointer, code: "invalid_schema", detail: "is not a schema"))
            }
            return
        }
        for (keyword, value) in rules.sorted(by: { $0.key < $1.key }) {
            let at = FieldError.pointer(pointer, keyword)
            func refuse(_ code: String, _ detail: String) { errors.append(FieldError(pointer: at, code: code, detail: detail)) }
            guard Self.assertions.contains(keyword) || Self.annotations.contains(keyword) else {
                refuse("unsupported_keyword", "\(keyword) is not supported")
                continue
            }
            switch keyword {
            case "properties", "$defs":
                for (name, child) in value.objectValue ?? [:] {
                    collectUnsupported(child, pointer: FieldError.pointer(at, name), followed: &followed, into: &errors)
                }
            case "items", "additionalProperties":
                collectUnsupported(value, pointer: at, followed: &followed, into: &errors)
            case "allOf", "anyOf", "oneOf":
                guard let parts = value.arrayValue, !parts.isEmpty else {
                    refuse("invalid_schema", "\(keyword) must be a non-empty array of schemas")
                    continue
                }
                for (index, part) in parts.enumerated() {
                    collectUnsupported(part, pointer: FieldError.pointer(at, String(index)), followed: &followed, into: &errors)
                }
            case "pattern":
                guard case .string(let pattern) = value, (try? Regex(pattern)) != nil else {
                    refuse("invalid_pattern", "\(value.canonical) is not a regular expression")
                    continue
                }
            case "$ref":
                guard case .string(let reference) = value, let target = resolve(reference) else {
                    refuse("unresolved_reference", "\(value.canonical) points at nothing")
                    continue
                }
                // Each target is checked once, which also ends recursive schemas.
                if followed.insert(reference).inserted {
                    collectUnsupported(target, pointer: reference, followed: &followed, into: &errors)
                }
            default:
                break
            }
        }
    }
}
