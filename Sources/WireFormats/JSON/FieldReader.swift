// What is wrong with which field: a JSON pointer (RFC 6901), a stable code and a sentence.

import Foundation

public struct FieldError: Error, Sendable, Equatable, Codable {
    /// RFC 6901 pointer into the request or file, such as `/settings/matchThreshold`.
    public var pointer: String
    /// `unknown_field`, `wrong_type`, `out_of_range`, `invalid_format`, `required`, `not_allowed`.
    public var code: String
    public var detail: String

    public init(pointer: String, code: String, detail: String) {
        self.pointer = pointer
        self.code = code
        self.detail = detail
    }

    /// `pointer` extended by one reference token, escaped as RFC 6901 asks.
    public static func pointer(_ base: String, _ token: String) -> String {
        base + "/" + token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

/// One or more field errors: the answer to an invalid body, settings patch or file.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var errors: [FieldError]

    public init(_ errors: [FieldError]) {
        self.errors = errors
    }

    public init(pointer: String, code: String, detail: String) {
        self.errors = [FieldError(pointer: pointer, code: code, detail: detail)]
    }
}

/// Reads an object field by field, collecting every error rather than stopping at the first.
/// A form's file parts sit beside the object (`files`), read only by `file(_:)`.
public struct FieldReader {
    public let object: [String: JSONValue]
    public let files: [String: [UInt8]]
    public let pointer: String
    public private(set) var errors: [FieldError] = []

    public init(_ value: JSONValue, files: [String: [UInt8]] = [:], pointer: String = "", allowed: Set<String>) {
        self.pointer = pointer
        self.files = files
        guard case .object(let object) = value else {
            self.object = [:]
            errors.append(FieldError(pointer: pointer.isEmpty ? "/" : pointer, code: "wrong_type", detail: "must be an object"))
            return
        }
        self.object = object
        for key in Set(object.keys).union(files.keys).sorted() where !allowed.contains(key) {
            errors.append(FieldError(pointer: FieldError.pointer(pointer, key), code: "unknown_field", detail: "is not a known field"))
        }
    }

    /// A form's fields and files, read as one.
    public init(_ form: MultipartForm, allowed: Set<String>) {
        self.init(.object(form.fields), files: form.files, allowed: allowed)
    }

    public mutating func fail(_ key: String, _ code: String, _ detail: String) {
        errors.append(FieldError(pointer: FieldError.pointer(pointer, key), code: code, detail: detail))
    }

    public mutating func record(_ more: [FieldError]) {
        errors += more
    }

    /// Whether a field is given (and not null) or a file is.
    public func contains(_ key: String) -> Bool { (object[key] ?? .null) != .null || files[key] != nil }

    /// The bytes of a form's file part.
    public func file(_ key: String) -> [UInt8]? { files[key] }

    public mutating func string(_ key: String, required: Bool = false, lengths: ClosedRange<Int>? = nil) -> String? {
        guard let value = present(key, required: required) else { return nil }
        guard case .string(let text) = value else {
            fail(key, "wrong_type", "must be a string, not \(value.typeName)")
            return nil
        }
        if let lengths, !lengths.contains(text.count) {
            fail(key, "out_of_range", "must be \(lengths.lowerBound) to \(lengths.upperBound) characters long")
            return nil
        }
        return text
    }

    public mutating func integer(_ key: String, required: Bool = false, in range: ClosedRange<Int>) -> Int? {
        guard let value = present(key, required: required) else { return nil }
        guard case .number(let number) = value, number == number.rounded(), abs(number) < 9e15 else {
            fail(key, "wrong_type", "must be a whole number, not \(value.typeName)")
            return nil
        }
        guard range.contains(Int(number)) else {
            fail(key, "out_of_range", "must be from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return Int(number)
    }

    public mutating func number(_ key: String, required: Bool = false, in range: ClosedRange<Double>) -> Double? {
        guard let value = present(key, required: required) else { return nil }
        guard case .number(let number) = value else {
            fail(key, "wrong_type", "must be a number, not \(value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            fail(key, "out_of_range", "must be from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }

    public mutating func bool(_ key: String, required: Bool = false) -> Bool? {
        guard let value = present(key, required: required) else { return nil }
        guard case .bool(let flag) = value else {
            fail(key, "wrong_type", "must be true or false, not \(value.typeName)")
            return nil
        }
        return flag
    }

    public mutating func value(_ key: String, required: Bool = false) -> JSONValue? {
        present(key, required: required)
    }

    private mutating func present(_ key: String, required: Bool) -> JSONValue? {
        if files[key] != nil {
            fail(key, "wrong_type", "must be a text field, not a file")
            return nil
        }
        guard let value = object[key], value != .null else {
            if required { fail(key, "required", "is required") }
            return nil
        }
        return value
    }

    /// Throws every error collected so far.
    public func check() throws(ValidationFailure) {
        if !errors.isEmpty { throw ValidationFailure(errors) }
    }
}
