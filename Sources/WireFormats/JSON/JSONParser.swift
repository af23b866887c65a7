// JSON text to `JSONValue`, strictly (RFC 8259): one value, no duplicate keys, bounded depth.
// Hand-written because what Foundation's decoder tolerates is exactly what an attacker uses:
// with duplicate keys it keeps one of them silently (a proxy that validated the other sees a
// different request), and its depth and number rules are not ours to state.

import Foundation

/// Why a text is not JSON Enface accepts.
public enum JSONSyntaxError: Error, Sendable, Equatable {
    /// Not JSON at all, at this byte offset.
    case invalid(offset: Int, reason: String)
    /// An object names a key twice; `pointer` is where (RFC 6901).
    case duplicateKey(pointer: String)
    /// Nested deeper than `JSONParser.maximumDepth`.
    case tooDeep(offset: Int)
}

public struct JSONParser {
    /// Arrays and objects nest at most this deep: a body of a million `[` must not exhaust the
    /// stack of the thread that parses it.
    public static let maximumDepth = 64

    /// Parses `bytes` as one JSON value, surrounded by optional whitespace.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            var parser = JSONParser(buffer)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.offset == buffer.count else { throw parser.invalid("text after the value") }
            return value
        }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var offset = 0
    /// Where the parser is, kept as tokens and spelt out only for an error.
    private var path: [PathToken] = []

    private enum PathToken {
        case key(String)
        case index(Int)
    }

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private func invalid(_ reason: String) -> JSONSyntaxError {
        .invalid(offset: offset, reason: reason)
    }

    private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { offset += 1 }
    }

    private mutating func expect(_ literal: StaticString, _ value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - offset >= count else { throw invalid("truncated literal") }
        for index in 0..<count where bytes[offset + index] != literal.utf8Start[index] {
            throw invalid("unknown literal")
        }
        offset += count
        return value
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard let byte = current else { throw invalid("a value was expected") }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw invalid("a value was expected")
        }
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maximumDepth else { throw .tooDeep(offset: offset) }
        offset += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            offset += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw invalid("a key was expected") }
            let key = try string()
            path.append(.key(key))
            guard members[key] == nil else { throw .duplicateKey(pointer: pointer) }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw invalid("':' was expected") }
            offset += 1
            skipWhitespace()
            members[key] = try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                return .object(members)
            default: throw invalid("',' or '}' was expected")
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maximumDepth else { throw .tooDeep(offset: offset) }
        offset += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            offset += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            path.append(.index(items.count))
            items.append(try value(depth: depth))
            path.removeLast()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                return .array(items)
            default: throw invalid("',' or ']' was expected")
            }
        }
    }

    /// A number as RFC 8259's grammar has it (no leading zeros, no '+', no bare '.'), read as
    /// the nearest Double. A number too large for a Double is refused, not made infinite.
    private mutating func number() throws(JSONSyntaxError) -> Double {
        let start = offset
        if current == UInt8(ascii: "-") { offset += 1 }
        guard let first = current, Self.isDigit(first) else { throw invalid("a digit was expected") }
        offset += 1
        if first != UInt8(ascii: "0") {
            while let byte = current, Self.isDigit(byte) { offset += 1 }
        }
        if current == UInt8(ascii: ".") {
            offset += 1
            guard let byte = current, Self.isDigit(byte) else { throw invalid("a digit was expected after '.'") }
            while let byte = current, Self.isDigit(byte) { offset += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            offset += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
            guard let byte = current, Self.isDigit(byte) else { throw invalid("a digit was expected in the exponent") }
            while let byte = current, Self.isDigit(byte) { offset += 1 }
        }
        guard offset - start <= 64 else { throw .invalid(offset: start, reason: "a number longer than 64 characters") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        guard let number = Double(text), number.isFinite else {
            throw .invalid(offset: start, reason: "a number out of range")
        }
        return number
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// A string: escapes decoded, surrogate pairs joined; control characters, lone surrogates
    /// and invalid UTF-8 refused.
    private mutating func string() throws(JSONSyntaxError) -> String {
        offset += 1  // "
        let start = offset
        // The common case: no escapes, so the bytes are the string.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 { offset += 1 }
        if current == UInt8(ascii: "\"") {
            let text = try Self.utf8(UnsafeBufferPointer(rebasing: bytes[start..<offset]), at: start)
            offset += 1
            return text
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: try Self.utf8(UnsafeBufferPointer(rebasing: bytes[start..<offset]), at: start).unicodeScalars)
        while true {
            guard let byte = current else { throw invalid("an unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                offset += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                offset += 1
                scalars.append(try escape())
            case 0..<0x20:
                throw invalid("a control character in a string")
            default:
                let run = offset
                while let next = current, next != UInt8(ascii: "\""), next != UInt8(ascii: "\\"), next >= 0x20 { offset += 1 }
                scalars.append(contentsOf: try Self.utf8(UnsafeBufferPointer(rebasing: bytes[run..<offset]), at: run).unicodeScalars)
            }
        }
    }

    private mutating func escape() throws(JSONSyntaxError) -> Unicode.Scalar {
        guard let byte = current else { throw invalid("an unterminated escape") }
        offset += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try hex4()
            switch unit {
            case 0xD800...0xDBFF:
                guard bytes.count - offset >= 2, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
                else { throw invalid("a lone surrogate") }
                offset += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw invalid("a lone surrogate") }
                let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                guard let scalar = Unicode.Scalar(value) else { throw invalid("an invalid code point") }
                return scalar
            case 0xDC00...0xDFFF:
                throw invalid("a lone surrogate")
            case 0:
                // Valid JSON, but no PostgreSQL text can hold it: refused here, not a 500 later.
                throw invalid("U+0000, which no text may hold")
            default:
                guard let scalar = Unicode.Scalar(UInt32(unit)) else { throw invalid("an invalid code point") }
                return scalar
            }
        default:
            throw invalid("an unknown escape")
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt16 {
        guard bytes.count - offset >= 4 else { throw invalid("a truncated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw invalid("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt16(digit)
            offset += 1
        }
        return value
    }

    private static func utf8(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONSyntaxError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalid(offset: offset, reason: "invalid UTF-8")
        }
        return text
    }

    /// Where the parser is, as an RFC 6901 pointer.
    private var pointer: String {
        path.map { token in
            switch token {
            case .key(let key): "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
            case .index(let index): "/\(index)"
            }
        }.joined()
    }
}
