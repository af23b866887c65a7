// Operator credentials: configured as hashes only, each with a name the audit records.

import Crypto
import Foundation
import WireFormats

/// `ENFACE_ADMIN_TOKENS="alice:<hex sha256 of her token>,ci:<hex>"`. The tokens themselves are
/// never configured, logged or stored.
public struct OperatorTokens: Sendable {
    struct Entry: Sendable {
        var name: String
        var digest: [UInt8]
    }

    let entries: [Entry]

    public init(_ configuration: String) throws(ValidationFailure) {
        var entries: [Entry] = []
        var errors: [FieldError] = []
        for (index, item) in configuration.split(separator: ",").enumerated() {
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].wholeMatch(of: /[A-Za-z0-9._@-]{1,64}/) != nil,
                  parts[1].count == 64, let digest = Self.bytes(hex: parts[1])
            else {
                errors.append(FieldError(pointer: "/\(index)", code: "invalid_format", detail: "expected name:sha256hex"))
                continue
            }
            entries.append(Entry(name: parts[0], digest: digest))
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        self.entries = entries
    }

    public var isEmpty: Bool { entries.isEmpty }

    public var count: Int { entries.count }

    /// The operator a presented token belongs to. Every entry is compared, in constant time.
    public func operatorName(for token: String) -> String? {
        let digest = Array(SHA256.hash(data: Data(token.utf8)))
        var match: String?
        for entry in entries where constantTimeEquals(entry.digest, digest) { match = entry.name }
        return match
    }

    /// A fresh operator token (`efo_` and 256 random bits).
    public static func generate() -> String { randomToken(marker: "efo_") }

    /// `name:hex(sha256(token))`, the line to configure for `token`.
    public static func configurationLine(name: String, token: String) -> String {
        "\(name):" + SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let a = nibble(high), let b = nibble(low) else { return nil }
            bytes.append(a << 4 | b)
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }
}
