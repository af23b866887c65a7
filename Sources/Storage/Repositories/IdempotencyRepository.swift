// Remembered answers to enrolls sent with an `Idempotency-Key`, within the enroll's own
// transaction: claimed first, answered last, gone with it when it rolls back.

import Foundation
import NIOCore
import PostgresNIO

public enum IdempotencyRepository {
    /// How long a key is remembered; an older one is free again.
    public static let lifetime: Duration = .seconds(24 * 60 * 60)

    /// What a claim found.
    public enum Claim: Sendable, Equatable {
        /// The key is this request's now: do the work, then `answer`.
        case claimed
        /// The same request was answered before: this is its answer.
        case answered(status: Int, body: Data)
        /// The key was used for a different request (another body, path or credential).
        case mismatch
    }

    /// Claims `key` for the request whose fingerprint is given. A request holding the same key in
    /// a transaction still open is waited for (the primary key's lock), then read.
    public static func claim(_ key: String, fingerprint: Data, in transaction: TenantTransaction) async throws -> Claim {
        let seconds = Int64(lifetime.components.seconds)
        // Keys past their lifetime are free again; the age index keeps this a probe.
        try await transaction.run(
            """
            DELETE FROM idempotent_requests
             WHERE tenant_id = \(transaction.tenantID) AND created_at < now() - make_interval(secs => \(seconds))
            """)
        let claimed = try await transaction.query(
            """
            INSERT INTO idempotent_requests (tenant_id, key, fingerprint)
            VALUES (\(transaction.tenantID), \(key), \(ByteBuffer(bytes: fingerprint)))
            ON CONFLICT (tenant_id, key) DO NOTHING RETURNING 1
            """
        ).collect()
        if !claimed.isEmpty { return .claimed }
        guard let row = try await transaction.query(
            """
            SELECT fingerprint, status, body FROM idempotent_requests WHERE tenant_id = \(transaction.tenantID) AND key = \(key)
            """
        ).collect().first else {
            // Released between the conflict and the read (its lifetime ran out): a fresh claim.
            return try await claim(key, fingerprint: fingerprint, in: transaction)
        }
        // A committed claim always has its answer; one without would be another request's.
        return try found(row, fingerprint: fingerprint) ?? .mismatch
    }

    /// What a claim would find, without claiming: nil when the key is free (or still being answered).
    public static func peek(_ key: String, fingerprint: Data, in transaction: TenantTransaction) async throws -> Claim? {
        let seconds = Int64(lifetime.components.seconds)
        guard let row = try await transaction.query(
            """
            SELECT fingerprint, status, body FROM idempotent_requests
             WHERE tenant_id = \(transaction.tenantID) AND key = \(key) AND created_at >= now() - make_interval(secs => \(seconds))
            """
        ).collect().first else { return nil }
        return try found(row, fingerprint: fingerprint)
    }

    static func found(_ row: PostgresRow, fingerprint: Data) throws -> Claim? {
        let (stored, status, body) = try row.decode((ByteBuffer, Int?, ByteBuffer?).self)
        guard Data(stored.readableBytesView) == fingerprint else { return .mismatch }
        guard let status, let body else { return nil }
        return .answered(status: status, body: Data(body.readableBytesView))
    }

    /// Stores the answer to a claimed key, in the transaction that claimed it.
    public static func answer(_ key: String, status: Int, body: Data, in transaction: TenantTransaction) async throws {
        try await transaction.run(
            """
            UPDATE idempotent_requests SET status = \(status), body = \(ByteBuffer(bytes: body))
             WHERE tenant_id = \(transaction.tenantID) AND key = \(key)
            """)
    }
}
