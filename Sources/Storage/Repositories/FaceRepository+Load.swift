// What a shard load reads: every rotated template straight from the row's bytes, and the few
// faces that have only a sealed one.

import Foundation
import NIOCore
import PostgresNIO

extension FaceRepository {
    /// Where a shard load begins: the tenant's change counter, how many faces it holds, and
    /// how many pages the faces table has (to split the read between connections).
    public static func loadPoint(in transaction: TenantTransaction) async throws -> (change: Int64, faces: Int, pages: Int) {
        try await transaction.query(
            """
            SELECT change_seq, face_count, (pg_relation_size('faces') / current_setting('block_size')::bigint)::bigint
              FROM tenants WHERE id = \(transaction.tenantID)
            """
        ).collect().first?.decode((Int64, Int, Int).self) ?? (0, 0, 0)
    }

    /// Every face of the tenant with a rotated template (on `pages` of the faces table, the rows
    /// of one part of a load split between connections; all of them when nil): `body` gets its
    /// id, its person and the template's floats as pgvector sends them (big-endian), in place in
    /// the row just received, so a million templates reach a shard without a million arrays. A
    /// template that is not a well-formed `vector` reaches `body` as no bytes.
    public static func forEachTemplate(
        pages: Range<Int>? = nil, in transaction: TenantTransaction, _ body: (UUID, String, UnsafeRawBufferPointer) -> Void
    ) async throws {
        // Rows by their place in the table (a TID range scan when the tenant is much of it).
        let first = pages.map { "(\($0.lowerBound),0)" }
        let end = pages.map { "(\($0.upperBound),0)" }
        // No join: the person's key is needed only to open a sealed template.
        for try await (id, person, template) in try await transaction.query(
            """
            SELECT id, person_id, template FROM faces
             WHERE tenant_id = \(transaction.tenantID) AND template IS NOT NULL
               AND (\(first)::tid IS NULL OR (ctid >= \(first)::tid AND ctid < \(end)::tid))
            """
        ).decode((UUID, String, ByteBuffer).self) {
            if PackedFloats.withVectorFloats(template, { body(id, person, $0) }) == nil {
                body(id, person, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }

    /// The faces without a rotated template (enrolled while the tenant kept none), with their
    /// sealed templates and their persons' keys.
    public static func facesWithoutTemplate(in transaction: TenantTransaction) async throws -> [StoredFace] {
        try await stored(faces: nil, sealedOnlyWithoutTemplate: true, withoutTemplateOnly: true, in: transaction)
    }
}
