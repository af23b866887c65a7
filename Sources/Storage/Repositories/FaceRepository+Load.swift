// What a shard load reads: every rotated template straight from the row's bytes, and the few
// faces that have only a sealed one.

import Foundation
import NIOCore
import PostgresNIO

extension FaceRepository {
    /// Where a shard load begins: the tenant's change counter and how many faces it holds, and
    /// the faces table's pages and (estimated) rows, to choose how to split the read.
    public struct LoadPoint: Sendable {
        public var change: Int64
        public var faces: Int
        public var tablePages: Int
        public var tableRows: Int

        /// How parts of this tenant's faces are best read: by page when it is most of the table
        /// (each part one pass over its pages), else by id (each part only its own rows).
        public var split: LoadSplit {
            faces >= tableRows - tableRows / 2 ? .byPage(pages: tablePages) : .byID
        }
    }

    /// How a load's parts divide the tenant's faces.
    public enum LoadSplit: Sendable, Equatable {
        /// Ranges of the face ids' first byte: face ids are random (`UUID()`, version 4), so the
        /// parts are even, and each reads its range of the primary key's index.
        case byID
        /// Ranges of the table's `pages`: each part reads its pages once (a TID range scan).
        case byPage(pages: Int)
    }

    public static func loadPoint(in transaction: TenantTransaction) async throws -> LoadPoint {
        let row = try await transaction.query(
            """
            SELECT t.change_seq, t.face_count, (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::bigint,
                   greatest(c.reltuples, 0)::bigint
              FROM tenants AS t, pg_class AS c WHERE t.id = \(transaction.tenantID) AND c.oid = 'public.faces'::regclass
            """
        ).collect().first?.decode((Int64, Int, Int, Int).self)
        return row.map { LoadPoint(change: $0.0, faces: $0.1, tablePages: $0.2, tableRows: $0.3) }
            ?? LoadPoint(change: 0, faces: 0, tablePages: 0, tableRows: 0)
    }

    /// Every face of the tenant with a rotated template, or part `part` of `parts` of them (a
    /// load split between connections, all parts in one snapshot): `body` gets its id, its
    /// person and the template's floats as pgvector sends them (big-endian), in place in the row
    /// just received, so a million templates reach a shard without a million arrays. A template
    /// that is not a well-formed `vector` reaches `body` as no bytes.
    public static func forEachTemplate(
        part: Int = 0, of parts: Int = 1, split: LoadSplit = .byID, in transaction: TenantTransaction,
        _ body: (UUID, String, UnsafeRawBufferPointer) -> Void
    ) async throws {
        var (fromID, belowID, fromPage, belowPage): (String?, String?, String?, String?)
        switch split {
        case .byID: (fromID, belowID) = idRange(part: part, of: parts)
        case .byPage(let pages): (fromPage, belowPage) = pageRange(part: part, of: parts, pages: pages)
        }
        // No join: the person's key is needed only to open a sealed template.
        for try await (id, person, template) in try await transaction.query(
            """
            SELECT id, person_id, template FROM faces
             WHERE tenant_id = \(transaction.tenantID) AND template IS NOT NULL
               AND (\(fromID)::uuid IS NULL OR id >= \(fromID)::uuid) AND (\(belowID)::uuid IS NULL OR id < \(belowID)::uuid)
               AND (\(fromPage)::tid IS NULL OR ctid >= \(fromPage)::tid) AND (\(belowPage)::tid IS NULL OR ctid < \(belowPage)::tid)
            """
        ).decode((UUID, String, ByteBuffer).self) {
            if PackedFloats.withVectorFloats(template, { body(id, person, $0) }) == nil {
                body(id, person, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }

    /// Part `part` of `parts` of the ids, as bounds on their first byte (nil: open on that side).
    static func idRange(part: Int, of parts: Int) -> (from: String?, below: String?) {
        precondition(parts >= 1 && parts <= 256 && (0..<parts).contains(part), "no such part")
        func bound(_ index: Int) -> String? {
            guard index > 0, index < parts else { return nil }
            let byte = String(256 * index / parts, radix: 16)
            return (byte.count == 1 ? "0" : "") + byte + "000000-0000-0000-0000-000000000000"
        }
        return (bound(part), bound(part + 1))
    }

    /// Part `part` of `parts` of a table of `pages` pages, as bounds on the row's place (nil:
    /// open on that side, so the last part also reads pages added since they were counted).
    static func pageRange(part: Int, of parts: Int, pages: Int) -> (from: String?, below: String?) {
        precondition(parts >= 1 && (0..<parts).contains(part), "no such part")
        func bound(_ index: Int) -> String? {
            // A block number is 32 bits: a larger count (a forged one) cannot overflow the product.
            index > 0 && index < parts ? "(\(min(max(0, pages), Int(UInt32.max)) * index / parts),0)" : nil
        }
        return (bound(part), bound(part + 1))
    }

    /// The faces without a rotated template (enrolled while the tenant kept none), with their
    /// sealed templates and their persons' keys.
    public static func facesWithoutTemplate(in transaction: TenantTransaction) async throws -> [StoredFace] {
        try await stored(faces: nil, sealedOnlyWithoutTemplate: true, withoutTemplateOnly: true, in: transaction)
    }
}
