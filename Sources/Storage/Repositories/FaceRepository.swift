// Persons and faces in PostgreSQL, always within the caller's tenant transaction. Limits are
// taken with conditional UPDATEs, so concurrent enrolls wait for each other instead of racing.

import Foundation
import Logging
import NIOCore
import PostgresNIO

public enum FaceRepository {
    /// Why an enroll was refused inside its transaction.
    public enum Refusal: Error, Equatable, Sendable {
        case maxFacesPerPerson(Int)
        case faceQuotaExceeded(Int)
    }

    public struct PersonRecord: Sendable, Equatable {
        public var id: String
        public var faceCount: Int
        public var createdAt: Date
    }

    public struct FaceRecord: Sendable, Equatable {
        public var id: UUID
        public var personID: String
        public var createdAt: Date
    }

    /// A stored face as a shard loads it: its rotated template if the tenant keeps one, else its
    /// sealed template and the person's wrapped key.
    public struct StoredFace: Sendable {
        public var id: UUID
        public var personID: String
        public var template: [Float]?
        public var sealed: Data
        public var wrappedPersonKey: Data
    }

    /// The person's wrapped key, creating the person with `newWrappedKey` when it does not exist.
    ///
    /// One statement, so it always answers: `ON CONFLICT DO UPDATE` either inserts or locks the
    /// existing row and returns it. (An insert that did nothing followed by a SELECT found no row
    /// when a delete of the same person committed in between.) The row stays locked until the
    /// enroll commits, so a concurrent delete of the person waits for it and then takes its face too.
    public static func person(
        _ personID: String, creatingWith newWrappedKey: Data, in transaction: TenantTransaction
    ) async throws -> Data {
        let rows = try await transaction.query(
            """
            INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(transaction.tenantID), \(personID), \(ByteBuffer(bytes: newWrappedKey)))
            ON CONFLICT (tenant_id, id) DO UPDATE SET wrapped_key = persons.wrapped_key
            RETURNING wrapped_key
            """
        ).collect()
        guard let row = rows.first else { throw RepositoryError.noRow("persons upsert") }
        return Data(try row.decode(ByteBuffer.self).readableBytesView)
    }

    /// What an enroll learns as it takes its face: the person's new count, the change's number,
    /// and what the tenant's row says, so that the enroll can check it sealed and rotated under
    /// the key and settings still in force (a re-key or a settings change may have committed
    /// while it ran; its lock on the row orders them).
    public struct Reservation: Sendable {
        public var faceCount: Int
        public var change: Int64
        public var keyVersion: Int
        public var searchableTemplates: Bool
    }

    /// Takes one face for the person and one from the tenant's quota.
    public static func reserveFace(
        person personID: String, maxFacesPerPerson: Int, maxFaces: Int, in transaction: TenantTransaction
    ) async throws -> Reservation {
        guard let count = try await transaction.query(
            """
            UPDATE persons SET face_count = face_count + 1
             WHERE tenant_id = \(transaction.tenantID) AND id = \(personID) AND face_count < \(maxFacesPerPerson)
            RETURNING face_count
            """
        ).collect().first?.decode(Int.self) else { throw Refusal.maxFacesPerPerson(maxFacesPerPerson) }
        guard let row = try await transaction.query(
            """
            UPDATE tenants SET face_count = face_count + 1, change_seq = change_seq + 1
             WHERE id = \(transaction.tenantID) AND face_count < \(Int64(maxFaces))
            RETURNING change_seq, key_version, coalesce((settings ->> 'searchableTemplates')::boolean, true)
            """
        ).collect().first else { throw Refusal.faceQuotaExceeded(maxFaces) }
        let (change, keyVersion, searchable) = try row.decode((Int64, Int, Bool).self)
        return Reservation(faceCount: count, change: change, keyVersion: keyVersion, searchableTemplates: searchable)
    }

    /// Drops one face's rotated template (its tenant stopped keeping them while it was enrolled).
    public static func dropTemplate(of face: UUID, in transaction: TenantTransaction) async throws {
        try await transaction.query("UPDATE faces SET template = NULL WHERE tenant_id = \(transaction.tenantID) AND id = \(face)")
    }

    /// `template` is the rotated template, or nil when the tenant keeps none. It travels as a
    /// binary float4[] and becomes a vector by pgvector's cast: exact, and no float is printed
    /// or parsed on the way.
    public static func insertFace(
        id: UUID, person personID: String, sealed: Data, template: [Float]?, in transaction: TenantTransaction
    ) async throws {
        try await transaction.query(
            """
            INSERT INTO faces (tenant_id, id, person_id, sealed, template)
            VALUES (\(transaction.tenantID), \(id), \(personID), \(ByteBuffer(bytes: sealed)), \(template.map(PackedFloats.init))::real[]::vector)
            """)
    }

    /// Deletes a face; returns its person and the change's number, or nil when the tenant has no
    /// such face.
    public static func deleteFace(_ id: UUID, in transaction: TenantTransaction) async throws -> (person: String, change: Int64)? {
        guard let person = try await transaction.query(
            "DELETE FROM faces WHERE tenant_id = \(transaction.tenantID) AND id = \(id) RETURNING person_id"
        ).collect().first?.decode(String.self) else { return nil }
        try await transaction.query(
            "UPDATE persons SET face_count = face_count - 1 WHERE tenant_id = \(transaction.tenantID) AND id = \(person)")
        return (person, try await releaseFaces(1, in: transaction))
    }

    /// Whether some other tenant than the transaction's holds a face with this id: a boolean
    /// and nothing more (`face_held_by_another_tenant`, SECURITY DEFINER), to audit probes.
    public static func heldByAnotherTenant(_ id: UUID, in transaction: TenantTransaction) async throws -> Bool {
        try await transaction.query("SELECT face_held_by_another_tenant(\(id))").collect().first?.decode(Bool.self) ?? false
    }

    /// Deletes a person, its faces and its wrapped key; returns the change's number, or nil when
    /// the tenant has no such person.
    public static func deletePerson(_ personID: String, in transaction: TenantTransaction) async throws -> Int64? {
        guard let count = try await transaction.query(
            "DELETE FROM persons WHERE tenant_id = \(transaction.tenantID) AND id = \(personID) RETURNING face_count"
        ).collect().first?.decode(Int.self) else { return nil }
        return try await releaseFaces(count, in: transaction)
    }

    static func releaseFaces(_ count: Int, in transaction: TenantTransaction) async throws -> Int64 {
        guard let row = try await transaction.query(
            """
            UPDATE tenants SET face_count = greatest(0, face_count - \(Int64(count))), change_seq = change_seq + 1
             WHERE id = \(transaction.tenantID) RETURNING change_seq
            """
        ).collect().first else { throw RepositoryError.noRow("tenants change counter") }
        return try row.decode(Int64.self)
    }

    // MARK: The change log

    /// A change to a tenant's faces as the log keeps it.
    public struct LoggedChange: Sendable, Equatable {
        public enum Operation: String, Sendable {
            case add, remove
            case removePerson = "remove_person"
        }

        public var seq: Int64
        public var operation: Operation
        public var face: UUID?
        public var person: String

        public init(seq: Int64, operation: Operation, face: UUID?, person: String) {
            self.seq = seq
            self.operation = operation
            self.face = face
            self.person = person
        }
    }

    /// Changes kept per tenant: a node further behind than this reloads the tenant instead.
    public static let logWindow: Int64 = 10_000

    /// Records `change` in the tenant's log, in the transaction that made it; every 1,000th change
    /// trims what is more than `logWindow` behind, so the log stays bounded without a sweeper.
    public static func log(_ change: LoggedChange, in transaction: TenantTransaction) async throws {
        try await transaction.query(
            """
            INSERT INTO face_changes (tenant_id, seq, operation, face_id, person_id)
            VALUES (\(transaction.tenantID), \(change.seq), \(change.operation.rawValue), \(change.face), \(change.person))
            """)
        if change.seq % 1_000 == 0 {
            try await transaction.query(
                "DELETE FROM face_changes WHERE tenant_id = \(transaction.tenantID) AND seq <= \(change.seq - logWindow)")
        }
    }

    /// The tenant's logged changes after `seq`, in order, at most `limit`.
    public static func changes(after seq: Int64, limit: Int, in transaction: TenantTransaction) async throws -> [LoggedChange] {
        var changes: [LoggedChange] = []
        for try await (number, operation, face, person) in try await transaction.query(
            """
            SELECT seq, operation, face_id, person_id FROM face_changes
             WHERE tenant_id = \(transaction.tenantID) AND seq > \(seq) ORDER BY seq LIMIT \(limit)
            """
        ).decode((Int64, String, UUID?, String).self) {
            guard let operation = LoggedChange.Operation(rawValue: operation) else { continue }
            changes.append(LoggedChange(seq: number, operation: operation, face: face, person: person))
        }
        return changes
    }

    /// The tenant's change counter now.
    public static func changeNumber(in transaction: TenantTransaction) async throws -> Int64 {
        try await transaction.query("SELECT change_seq FROM tenants WHERE id = \(transaction.tenantID)")
            .collect().first?.decode(Int64.self) ?? 0
    }

    /// These faces as a shard loads them; the ones gone are simply absent.
    public static func storedFaces(_ ids: [UUID], in transaction: TenantTransaction) async throws -> [StoredFace] {
        try await stored(faces: ids, sealedOnlyWithoutTemplate: true, in: transaction)
    }

    public static func findPerson(_ personID: String, in transaction: TenantTransaction) async throws -> (PersonRecord, [FaceRecord])? {
        guard let row = try await transaction.query(
            "SELECT id, face_count, created_at FROM persons WHERE tenant_id = \(transaction.tenantID) AND id = \(personID)"
        ).collect().first else { return nil }
        let (id, count, created) = try row.decode((String, Int, Date).self)
        var faces: [FaceRecord] = []
        for try await (face, person, at) in try await transaction.query(
            """
            SELECT id, person_id, created_at FROM faces
             WHERE tenant_id = \(transaction.tenantID) AND person_id = \(personID) ORDER BY created_at, id
            """
        ).decode((UUID, String, Date).self) {
            faces.append(FaceRecord(id: face, personID: person, createdAt: at))
        }
        return (PersonRecord(id: id, faceCount: count, createdAt: created), faces)
    }

    /// Persons in id order, after `cursor` (keyset pagination).
    public static func persons(after cursor: String?, limit: Int, in transaction: TenantTransaction) async throws -> [PersonRecord] {
        var persons: [PersonRecord] = []
        for try await (id, count, created) in try await transaction.query(
            """
            SELECT id, face_count, created_at FROM persons
             WHERE tenant_id = \(transaction.tenantID) AND id > \(cursor ?? "")
             ORDER BY id LIMIT \(limit)
            """
        ).decode((String, Int, Date).self) {
            persons.append(PersonRecord(id: id, faceCount: count, createdAt: created))
        }
        return persons
    }

    /// Every face of the tenant, with its sealed template and its person's key (for re-keying).
    public static func allFaces(in transaction: TenantTransaction) async throws -> [StoredFace] {
        try await stored(faces: nil, sealedOnlyWithoutTemplate: false, in: transaction)
    }

    /// `ids` (every face when nil), or with `withoutTemplateOnly` those of them without a rotated
    /// template. With `sealedOnlyWithoutTemplate`, the sealed template and the person's key only
    /// for a face without a rotated one (a shard would otherwise read every sealed template, 2 KB
    /// a face, for nothing).
    static func stored(
        faces ids: [UUID]?, sealedOnlyWithoutTemplate: Bool, withoutTemplateOnly: Bool = false, in transaction: TenantTransaction
    ) async throws -> [StoredFace] {
        var faces: [StoredFace] = []
        for try await (id, person, template, sealed, key) in try await transaction.query(
            """
            SELECT f.id, f.person_id, f.template,
                   CASE WHEN f.template IS NULL OR NOT \(sealedOnlyWithoutTemplate) THEN f.sealed ELSE '' END,
                   CASE WHEN f.template IS NULL OR NOT \(sealedOnlyWithoutTemplate) THEN p.wrapped_key ELSE '' END
              FROM faces AS f JOIN persons AS p ON p.tenant_id = f.tenant_id AND p.id = f.person_id
             WHERE f.tenant_id = \(transaction.tenantID) AND (\(ids)::uuid[] IS NULL OR f.id = ANY(\(ids)::uuid[]))
               AND (f.template IS NULL OR NOT \(withoutTemplateOnly))
            """
        ).decode((UUID, String, PackedFloats?, ByteBuffer, ByteBuffer).self) {
            faces.append(StoredFace(
                id: id, personID: person, template: template?.values, sealed: Data(sealed.readableBytesView),
                wrappedPersonKey: Data(key.readableBytesView)))
        }
        return faces
    }

    /// 1:N in the database, exactly (a scan, no approximate index): each person's best face by
    /// cosine against the rotated probe, at or above `minScore`, best first. For tenants whose
    /// shard is not in memory. Names `tenant_id`, which the planner uses; RLS alone is slower.
    public static func searchPersons(
        rotatedProbe: [Float], minScore: Double, limit: Int, in transaction: TenantTransaction
    ) async throws -> [(person: String, face: UUID, score: Double)] {
        let probe = vectorText(rotatedProbe)
        var matches: [(String, UUID, Double)] = []
        for try await (person, face, score) in try await transaction.query(
            """
            SELECT person_id, id, score FROM (
                SELECT person_id, id, 1 - (template <=> \(probe)::vector) AS score,
                       row_number() OVER (PARTITION BY person_id ORDER BY template <=> \(probe)::vector, id) AS rank
                  FROM faces WHERE tenant_id = \(transaction.tenantID) AND template IS NOT NULL
            ) AS best
             WHERE rank = 1 AND score >= \(minScore)
             ORDER BY score DESC, person_id LIMIT \(limit)
            """
        ).decode((String, UUID, Double).self) {
            matches.append((person, face, score))
        }
        return matches
    }

    /// How many faces the tenant holds (a 1:N threshold set as a rate depends on it): the count
    /// its enrolls and deletes keep on its row, one read.
    public static func faceCount(in transaction: TenantTransaction) async throws -> Int {
        let row = try await transaction.query("SELECT face_count FROM tenants WHERE id = \(transaction.tenantID)")
            .collect().first.orThrow(RepositoryError.noRow("face count"))
        return Int(clamping: try row.decode(Int64.self))
    }

    /// 1:1 in the database: the person's best face against the rotated probe, or nil when the
    /// tenant has no face of this person.
    public static func bestFace(
        of personID: String, rotatedProbe: [Float], in transaction: TenantTransaction
    ) async throws -> (face: UUID, score: Double)? {
        let probe = vectorText(rotatedProbe)
        return try await transaction.query(
            """
            SELECT id, 1 - (template <=> \(probe)::vector) FROM faces
             WHERE tenant_id = \(transaction.tenantID) AND person_id = \(personID) AND template IS NOT NULL
             ORDER BY template <=> \(probe)::vector, id LIMIT 1
            """
        ).collect().first.map { try $0.decode((UUID, Double).self) }
    }

    // MARK: Keys and templates, in bulk

    /// Every person of the tenant with its wrapped key (re-keying a tenant).
    public static func personKeys(in transaction: TenantTransaction) async throws -> [(person: String, key: Data)] {
        try await transaction.query(
            "SELECT id, wrapped_key FROM persons WHERE tenant_id = \(transaction.tenantID) ORDER BY id FOR UPDATE"
        ).collect().map { row in
            let (id, key) = try row.decode((String, ByteBuffer).self)
            return (id, Data(key.readableBytesView))
        }
    }

    /// Replaces persons' wrapped keys, a thousand at a time.
    public static func replacePersonKeys(_ keys: [(person: String, key: Data)], in transaction: TenantTransaction) async throws {
        for chunk in stride(from: 0, to: keys.count, by: 1_000).map({ keys[$0..<min($0 + 1_000, keys.count)] }) {
            try await transaction.run(
                """
                UPDATE persons AS p SET wrapped_key = v.key
                  FROM unnest(\(chunk.map(\.person))::text[], \(chunk.map { ByteBuffer(bytes: $0.key) })::bytea[]) AS v(id, key)
                 WHERE p.tenant_id = \(transaction.tenantID) AND p.id = v.id
                """)
        }
    }

    /// Stores faces' rotated templates, a thousand at a time; `onlyMissing` writes only where the
    /// column is empty (a shard load filling in what was enrolled while it was off).
    public static func storeTemplates(
        _ templates: [(face: UUID, template: [Float])], onlyMissing: Bool, in transaction: TenantTransaction
    ) async throws {
        for chunk in stride(from: 0, to: templates.count, by: 1_000).map({ templates[$0..<min($0 + 1_000, templates.count)] }) {
            let (packed, dimension) = packedTemplates(chunk.map(\.template))
            try await transaction.run(
                """
                UPDATE faces AS f SET template = (\(packed)::real[])[(v.n - 1) * \(dimension) + 1 : v.n * \(dimension)]::vector
                  FROM unnest(\(chunk.map(\.face))::uuid[]) WITH ORDINALITY AS v(id, n)
                 WHERE f.tenant_id = \(transaction.tenantID) AND f.id = v.id AND (NOT \(onlyMissing) OR f.template IS NULL)
                """)
        }
    }

    /// Templates of one length end to end in one binary float4[], for a statement to cut out the
    /// n-th (`[(n - 1) * dimension + 1 : n * dimension]`) and cast it to a vector: exact, and no
    /// float printed or parsed. Nil when any is missing or of another length (then none is kept).
    static func packedTemplates(_ templates: [[Float]?]) -> (packed: PackedFloats?, dimension: Int) {
        let dimension = templates.first??.count ?? 0
        guard dimension > 0, templates.allSatisfy({ $0?.count == dimension }) else { return (nil, 0) }
        return (PackedFloats(templates.flatMap { $0 ?? [] }), dimension)
    }

    /// Whether some face of the tenant has no rotated template (pgvector cannot search it).
    public static func hasFacesWithoutTemplate(in transaction: TenantTransaction) async throws -> Bool {
        try await transaction.query(
            "SELECT EXISTS (SELECT 1 FROM faces WHERE tenant_id = \(transaction.tenantID) AND template IS NULL)"
        ).collect().first?.decode(Bool.self) ?? false
    }

    /// Empties the tenant's template column, once its settings say it keeps none (a SECURITY
    /// DEFINER function: the operator role has no grant on faces). Returns how many were cleared.
    @discardableResult
    public static func clearTemplates(in transaction: TenantTransaction) async throws -> Int {
        try await transaction.query("SELECT clear_searchable_templates(\(transaction.tenantID))").collect().first?.decode(Int.self) ?? 0
    }

    /// pgvector's text form, `[x,y,…]`, with every float written to round-trip exactly.
    public static func vectorText(_ values: [Float]) -> String {
        "[" + values.map { "\($0)" }.joined(separator: ",") + "]"
    }
}
