// The part of JSON Schema (2020-12) our own schemas use, enough to check a file against one and
// point at every error. A schema using anything else is refused when loaded, not ignored.

import Foundation
import WireFormats

public struct JSONSchema: Sendable {
    let root: JSONValue

    /// Keywords this validator understands; annotations it may skip are listed too.
    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "pattern",
        "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "$ref", "$defs",
        "$schema", "$id", "title", "description",
    ]

    public init(_ root: JSONValue) throws(ValidationFailure) {
        self.root = root
        var unsupported: [FieldError] = []
        Self.collectUnsupported(root, pointer: "", into: &unsupported)
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

    /// `#/$defs/name` style references within the schema itself.
    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node = root
        for token in reference.dropFirst(2).split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node.objectValue?[key] else { return nil }
            node = next
        }
        return node
    }

    private static func collectUnsupported(_ schema: JSONValue, pointer: String, into errors: inout [FieldError]) {
        guard case .object(let rules) = schema else { return }
        for (keyword, value) in rules.sorted(by: { $0.key < $1.key }) {
            let at = FieldError.pointer(pointer, keyword)
            guard keywords.contains(keyword) else {
                errors.append(FieldError(pointer: at, code: "unsupported_keyword", detail: "\(keyword) is not supported"))
                continue
            }
            switch keyword {
            case "properties", "$defs":
                for (name, child) in value.objectValue ?? [:] {
                    collectUnsupported(child, pointer: FieldError.pointer(at, name), into: &errors)
                }
            case "items", "additionalProperties":
                collectUnsupported(value, pointer: at, into: &errors)
            default:
                break
            }
        }
    }
}
