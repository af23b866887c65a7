// A batch of enrolls in one transaction, a statement per step rather than per face: persons
// upserted together, faces and their changes inserted from arrays, the counts taken at once.

import Foundation
import NIOCore
import PostgresNIO

extension FaceRepository {
    /// A person as a batch finds it: its wrapped key and how many faces it holds.
    public struct BatchPerson: Sendable {
        public var wrappedKey: Data
        public var faceCount: Int
    }

    /// The persons, created with their `newWrappedKeys` where they do not exist, each locked until
    /// the transaction ends (in id order, so two batches never wait for each other in a circle).
    public static func persons(
        _ ids: [String], creatingWith newWrappedKeys: [Data], in transaction: TenantTransaction
    ) async throws -> [String: BatchPerson] {
        var found: [String: BatchPerson] = [:]
        for try await (id, key, count) in try await transaction.query(
            """
            INSERT INTO persons (tenant_id, id, wrapped_key)
            SELECT \(transaction.tenantID), v.id, v.key
              FROM unnest(\(ids)::text[], \(newWrappedKeys.map { ByteBuffer(bytes: $0) })::bytea[]) AS v(id, key) ORDER BY v.id
            ON CONFLICT (tenant_id, id) DO UPDATE SET wrapped_key = persons.wrapped_key
            RETURNING id, wrapped_key, face_count
            """
        ).decode((String, ByteBuffer, Int).self) {
            found[id] = BatchPerson(wrappedKey: Data(key.readableBytesView), faceCount: count)
        }
        return found
    }

    /// The tenant's row as a batch needs it, locked: its face count, change counter, key version
    /// and whether it keeps searchable templates. `FOR NO KEY UPDATE`, the lock an enroll's UPDATE
    /// of the row takes: `FOR UPDATE` would also wait for the key-share locks that every insert
    /// of a person takes on its tenant's row (the foreign key), and two batches that had each
    /// inserted persons would wait for each other (a deadlock, measured with two connections).
    public struct TenantRow: Sendable {
        public var faceCount: Int
        public var change: Int64
        public var keyVersion: Int
        public var searchableTemplates: Bool
    }

    public static func lockTenant(in transaction: TenantTransaction) async throws -> TenantRow {
        let row = try await transaction.query(
            """
            SELECT face_count, change_seq, key_version, coalesce((settings ->> 'searchableTemplates')::boolean, true)
              FROM tenants WHERE id = \(transaction.tenantID) FOR NO KEY UPDATE
            """
        ).collect().first.orThrow(RepositoryError.noRow("tenant row"))
        let (count, change, version, searchable) = try row.decode((Int64, Int64, Int, Bool).self)
        return TenantRow(faceCount: Int(clamping: count), change: change, keyVersion: version, searchableTemplates: searchable)
    }

    /// A face a batch inserts: `template` is its rotated template, nil when the tenant keeps none
    /// (a batch's faces all have one, of one length, or none).
    public struct NewFace: Sendable {
        public var id: UUID
        public var personID: String
        public var sealed: Data
        public var template: [Float]?

        public init(id: UUID, personID: String, sealed: Data, template: [Float]?) {
            self.id = id
            self.personID = personID
            self.sealed = sealed
            self.template = template
        }
    }

    /// Inserts the faces, counts them on their persons and the tenant, and logs one change for
    /// each, numbered in order after `row.change`. Returns the changes.
    public static func insertFaces(
        _ faces: [NewFace], after row: TenantRow, in transaction: TenantTransaction
    ) async throws -> [LoggedChange] {
        guard !faces.isEmpty else { return [] }
        for chunk in stride(from: 0, to: faces.count, by: 1_000).map({ faces[$0..<min($0 + 1_000, faces.count)] }) {
            // NULL when the faces keep no template: every row's slice is NULL.
            let (templates, dimension) = packedTemplates(chunk.map(\.template))
            try await transaction.run(
                """
                INSERT INTO faces (tenant_id, id, person_id, sealed, template)
                SELECT \(transaction.tenantID), v.id, v.person, v.sealed,
                       (\(templates)::real[])[(v.n - 1) * \(dimension) + 1 : v.n * \(dimension)]::vector
                  FROM unnest(\(chunk.map(\.id))::uuid[], \(chunk.map(\.personID))::text[], \(chunk.map { ByteBuffer(bytes: $0.sealed) })::bytea[])
                       WITH ORDINALITY AS v(id, person, sealed, n)
                """)
        }
        var added: [String: Int] = [:]
        for face in faces { added[face.personID, default: 0] += 1 }
        let persons = added.keys.sorted()
        try await transaction.run(
            """
            UPDATE persons AS p SET face_count = p.face_count + v.added
              FROM unnest(\(persons)::text[], \(persons.map { added[$0] ?? 0 })::int[]) AS v(id, added)
             WHERE p.tenant_id = \(transaction.tenantID) AND p.id = v.id
            """)
        let count = Int64(faces.count)
        try await transaction.run(
            """
            UPDATE tenants SET face_count = face_count + \(count), change_seq = change_seq + \(count)
             WHERE id = \(transaction.tenantID)
            """)
        let changes = faces.enumerated().map { offset, face in
            LoggedChange(seq: row.change + 1 + Int64(offset), operation: .add, face: face.id, person: face.personID)
        }
        try await transaction.run(
            """
            INSERT INTO face_changes (tenant_id, seq, operation, face_id, person_id)
            SELECT \(transaction.tenantID), v.seq, 'add', v.face, v.person
              FROM unnest(\(changes.map(\.seq))::bigint[], \(faces.map(\.id))::uuid[], \(changes.map(\.person))::text[])
                   AS v(seq, face, person)
            """)
        // Trimmed as single changes trim it: whenever the counter passes a multiple of 1,000.
        if let last = changes.last?.seq, last / 1_000 > row.change / 1_000 {
            try await transaction.run(
                "DELETE FROM face_changes WHERE tenant_id = \(transaction.tenantID) AND seq <= \(last - logWindow)")
        }
        return changes
    }
}
