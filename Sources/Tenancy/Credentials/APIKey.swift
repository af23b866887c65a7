// Tenant API keys: 256 random bits, shown once; only their SHA-256 is ever stored.

import Crypto
import Foundation

/// A key's text, as the client holds it: `efk_` and 43 base64url characters (256 bits). Never
/// printed: `description` shows only the prefix.
public struct APIKeySecret: Sendable, Equatable, CustomStringConvertible {
    public let text: String

    static let marker = "efk_"
    static let secretLength = 43

    /// A fresh key.
    public static func generate() -> APIKeySecret {
        APIKeySecret(unchecked: randomToken(marker: marker))
    }

    /// The text a client sent, if it has a key's shape. Anything else is refused without a
    /// database lookup.
    public init?(presented text: String) {
        guard text.utf8.count == Self.marker.utf8.count + Self.secretLength, text.hasPrefix(Self.marker),
              text.utf8.dropFirst(Self.marker.utf8.count).allSatisfy(Self.isBase64URL)
        else { return nil }
        self.text = text
    }

    private init(unchecked text: String) {
        self.text = text
    }

    /// What lists show to tell keys apart: `efk_` and the first 8 characters.
    public var prefix: String { String(text.prefix(Self.marker.count + 8)) }

    /// SHA-256 of the key's text: what the database stores and looks keys up by.
    public var hash: [UInt8] { Array(SHA256.hash(data: Data(text.utf8))) }

    public var description: String { "\(prefix)…" }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == 0x2D || byte == 0x5F
    }
}

/// `marker` and 256 random bits in base64url (43 characters): the shape of every secret Enface
/// hands out.
func randomToken(marker: String) -> String {
    let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    return marker + bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// Compares two digests in time independent of where they differ.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}

/// A key as lists show it: never its text.
public struct APIKeyInfo: Sendable, Codable, Equatable {
    @WireUUID public var id: UUID
    public var name: String
    public var prefix: String
    public var scopes: [Scope]
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
    public var revokedAt: Date?

    public init(
        id: UUID, name: String, prefix: String, scopes: [Scope], createdAt: Date, lastUsedAt: Date?, expiresAt: Date?,
        revokedAt: Date?
    ) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.scopes = scopes
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}
