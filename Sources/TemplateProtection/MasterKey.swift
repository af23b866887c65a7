// The root of the key hierarchy: it wraps every tenant key and the platform's own keys.

import Crypto
import Foundation

/// 256 bits from `ENFACE_MASTER_KEY` (base64 or hex) or from a 0600 key file created on first
/// run. Never printed: `description` shows a short fingerprint only.
public struct MasterKey: Sendable, CustomStringConvertible {
    let key: SymmetricKey

    public init(key: SymmetricKey) {
        precondition(key.bitCount == 256, "a master key has 256 bits")
        self.key = key
    }

    public static func generate() -> MasterKey { MasterKey(key: SymmetricKey(size: .bits256)) }

    /// Parses 32 bytes written as base64 (44 characters) or hex (64 characters).
    public init(text: String) throws(KeyError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 64, let bytes = Self.hexBytes(trimmed) {
            self.init(key: SymmetricKey(data: bytes))
        } else if let data = Data(base64Encoded: trimmed), data.count == 32 {
            self.init(key: SymmetricKey(data: data))
        } else {
            throw .malformedMasterKey
        }
    }

    /// The key in `environment` if set, else the key in `file`, created (0600, in a 0700 folder)
    /// when it does not exist yet.
    public static func load(environment: String?, file: URL) throws -> MasterKey {
        if let environment, !environment.isEmpty { return try MasterKey(text: environment) }
        if FileManager.default.fileExists(atPath: file.path) { return try read(file) }
        let key = generate()
        try key.write(to: file)
        return key
    }

    /// The key in `file`, which no one but its owner may read.
    public static func read(_ file: URL) throws -> MasterKey {
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw KeyError.keyFileReadableByOthers(file.path)
        }
        return try MasterKey(text: String(contentsOf: file, encoding: .utf8))
    }

    /// Writes the key to a new file (0600, in a 0700 folder); refuses to overwrite one.
    public func write(to file: URL) throws {
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard !FileManager.default.fileExists(atPath: file.path), FileManager.default.createFile(
            atPath: file.path, contents: Data((base64 + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw KeyError.cannotWrite(file.path) }
    }

    /// The key as `ENFACE_MASTER_KEY` takes it. Handle with care.
    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    /// First 8 hex digits of SHA-256 of the key: tells keys apart without revealing them.
    public var fingerprint: String {
        key.withUnsafeBytes { SHA256.hash(data: Data($0)) }.prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    public var description: String { "MasterKey(\(fingerprint))" }

    /// The key that turns tenant ids into the opaque tags change notices carry (see
    /// `NoticeTags`): derived, so every node holding this master key makes the same tags.
    public var noticeTags: NoticeTags {
        NoticeTags(key: HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Data("enface".utf8), info: Data("change-notice-tags/v1".utf8), outputByteCount: 32))
    }

    // MARK: Wrapping the platform's keys

    /// AES-256-GCM under the master key, bound to the key's name (AAD).
    public func wrapPlatformKey(_ platformKey: SymmetricKey, name: String) throws -> Data {
        try KeyWrap.wrap(platformKey, with: key, context: "platform-key/v1", owner: Data(name.utf8))
    }

    public func unwrapPlatformKey(_ wrapped: Data, name: String) throws(KeyError) -> SymmetricKey {
        try KeyWrap.unwrap(wrapped, with: key, context: "platform-key/v1", owner: Data(name.utf8))
    }

    // MARK: Wrapping tenant keys

    /// AES-256-GCM under the master key, bound to the tenant (AAD), so a wrapped key copied to
    /// another tenant's row does not unwrap.
    public func wrap(_ tenantKey: TenantKey, tenantID: UUID) throws -> Data {
        try KeyWrap.wrap(tenantKey.key, with: key, context: "tenant-key/v1", owner: KeyWrap.bytes(tenantID))
    }

    public func unwrapTenantKey(_ wrapped: Data, tenantID: UUID) throws(KeyError) -> TenantKey {
        TenantKey(key: try KeyWrap.unwrap(wrapped, with: key, context: "tenant-key/v1", owner: KeyWrap.bytes(tenantID)))
    }

    static func hexBytes(_ hex: String) -> Data? {
        var bytes = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// A tenant's own key: it wraps the tenant's person keys. Destroying its wrapped copy makes
/// every template of the tenant unreadable, backups included.
public struct TenantKey: Sendable, CustomStringConvertible {
    let key: SymmetricKey

    init(key: SymmetricKey) {
        self.key = key
    }

    public static func generate() -> TenantKey { TenantKey(key: SymmetricKey(size: .bits256)) }

    public var description: String { "TenantKey(redacted)" }
}

public enum KeyError: Error, Equatable, CustomStringConvertible {
    case malformedMasterKey
    case keyFileReadableByOthers(String)
    case cannotWrite(String)
    /// The wrapped key is corrupt, or was wrapped for another tenant or by another master key.
    case cannotUnwrap

    public var description: String {
        switch self {
        case .malformedMasterKey: "ENFACE_MASTER_KEY must be 32 bytes as base64 (44 characters) or hex (64)"
        case .keyFileReadableByOthers(let path): "\(path) is readable by other users; chmod 600 it"
        case .cannotWrite(let path): "cannot write \(path)"
        case .cannotUnwrap: "a wrapped key does not open with this key (wrong key, tenant or data)"
        }
    }
}
