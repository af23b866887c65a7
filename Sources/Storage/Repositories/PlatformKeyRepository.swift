// The platform's own keys, wrapped by the master key: stored and read here, never opened here.

import Foundation
import Logging
import NIOCore
import PostgresNIO

public enum PlatformKeyRepository {
    /// The audit chain's HMAC key, version 1; later versions are `auditChain(version:)`.
    public static let auditChain = "audit-chain"

    /// The name of a version of the audit chain's key.
    public static func auditChain(version: Int) -> String { version == 1 ? auditChain : "\(auditChain)/\(version)" }

    /// Every version of the audit chain's key, wrapped: version → wrapped key.
    public static func auditChainVersions(on connection: PostgresConnection, logger: Logger) async throws -> [Int: Data] {
        var versions: [Int: Data] = [:]
        for row in try await connection.query(
            "SELECT name, wrapped FROM platform_keys WHERE name = \(auditChain) OR name LIKE \(auditChain + "/%")", logger: logger
        ).collect() {
            let (name, wrapped) = try row.decode((String, ByteBuffer).self)
            let version = name == auditChain ? 1 : Int(name.dropFirst(auditChain.count + 1)) ?? 0
            if version >= 1 { versions[version] = Data(wrapped.readableBytesView) }
        }
        return versions
    }

    /// The wrapped key named `name`, if one was stored; with `lock`, its row stays locked until
    /// the transaction ends.
    public static func wrapped(
        _ name: String, lock: Bool = false, on connection: PostgresConnection, logger: Logger
    ) async throws -> Data? {
        let query = PostgresQuery(
            unsafeSQL: "SELECT wrapped FROM platform_keys WHERE name = $1" + (lock ? " FOR UPDATE" : ""),
            binds: try PostgresBindings(binding: name))
        return try await connection.query(query, logger: logger)
            .collect().first.map { Data(try $0.decode(ByteBuffer.self).readableBytesView) }
    }

    /// Stores `wrapped` as `name` unless a key of that name exists, and returns the stored one:
    /// of two nodes racing to store the first key, both get the winner's.
    public static func insertIfAbsent(
        _ name: String, wrapped: Data, on connection: PostgresConnection, logger: Logger
    ) async throws -> Data {
        _ = try await connection.query(
            "INSERT INTO platform_keys (name, wrapped) VALUES (\(name), \(ByteBuffer(bytes: wrapped))) ON CONFLICT (name) DO NOTHING",
            logger: logger
        ).collect()
        guard let stored = try await self.wrapped(name, on: connection, logger: logger) else {
            throw RepositoryError.noRow("platform key \(name), neither inserted nor found")
        }
        return stored
    }

    /// Replaces `name`'s wrapped key (the same key, wrapped by a new master key), locking the row
    /// first. False when no such key is stored.
    public static func rewrap(
        _ name: String, on connection: PostgresConnection, logger: Logger, _ transform: (Data) throws -> Data
    ) async throws -> Bool {
        guard let current = try await wrapped(name, lock: true, on: connection, logger: logger) else { return false }
        try await connection.query(
            "UPDATE platform_keys SET wrapped = \(ByteBuffer(bytes: try transform(current))), rotated_at = now() WHERE name = \(name)",
            logger: logger)
        return true
    }
}
