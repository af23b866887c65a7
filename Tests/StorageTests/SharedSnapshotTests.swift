// A read split between connections sees one moment: what commits after the first part began is
// in no part, and each part sees only its tenant.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

// Serialized: each case holds a pool of its own, and the whole suite already runs some 80
// servers at once against one PostgreSQL.
@Suite(.scratchDatabase, .serialized)
struct SharedSnapshotTests {
    @Test func everyPartReadsTheMomentTheFirstOneBeganAt() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let (before, counts) = try await app.withSharedSnapshot(tenants.a) { transaction in
                let before = try await count("persons", on: transaction.connection)
                // Committed on another connection after this transaction's snapshot was taken,
                // before the other parts begin: no part may see it.
                try await app.withTenant(tenants.a) { other in
                    try await other.run("INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(tenants.a), 'late', '\\x00')")
                }
                return before
            } parts: { _ in 3 } _: { _, part, _, transaction in
                (part, try await count("persons", on: transaction.connection),
                 try await transaction.query("SELECT DISTINCT tenant_id FROM persons").collect().map { try $0.decode(UUID.self) })
            }
            #expect(counts.map(\.0) == [0, 1, 2])
            #expect(counts.allSatisfy { $0.1 == before }, "\(before) then \(counts.map(\.1))")
            #expect(counts.allSatisfy { $0.2 == [tenants.a] })
            // The late person is there for whoever reads next.
            let now = try await app.withTenant(tenants.a) { try await count("persons", on: $0.connection) }
            #expect(now == before + 1)
        }
    }

    /// A load split in parts reads every face once: the parts' id (or page) ranges cover all
    /// rows and do not overlap, and each row's floats arrive as they were stored.
    @Test(arguments: [1, 2, 7], [false, true])
    func thePartsOfALoadReadEveryFaceOnce(parts: Int, byPage: Bool) async throws {
        let database = try ScratchDatabase.required()
        let tenant = UUID()
        try await database.createTenant(tenant)
        // 500 faces with random ids, and a few with the ids at the ranges' edges.
        var ids = (0..<500).map { _ in UUID() }
        ids += ["00000000-0000-0000-0000-000000000000", "7fffffff-ffff-ffff-ffff-ffffffffffff", "80000000-0000-0000-0000-000000000000",
                "55000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"].compactMap(UUID.init(uuidString:))
        try await database.withPool(.app) { app in
            try await app.withTenant(tenant) { tx in
                try await tx.run("INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(tenant), 'p', '\\x01')")
                try await tx.run(
                    """
                    INSERT INTO faces (tenant_id, id, person_id, sealed, template)
                    SELECT \(tenant), id, 'p', '\\x01', array_fill(ordinal::real, ARRAY[4])::vector
                      FROM unnest(\(ids)::uuid[]) WITH ORDINALITY AS f(id, ordinal)
                    """)
            }
            let point = try await app.withTenant(tenant) { try await FaceRepository.loadPoint(in: $0) }
            #expect(point.faces == 0 && point.tablePages > 0)  // the count is kept by enrolls, not by these inserts
            let split: FaceRepository.LoadSplit = byPage ? .byPage(pages: point.tablePages) : .byID
            var seen: [UUID: [Float]] = [:]
            var twice = 0
            for part in 0..<parts {
                try await app.withTenant(tenant) { tx in
                    try await FaceRepository.forEachTemplate(part: part, of: parts, split: split, in: tx) { id, person, floats in
                        let values = (0..<floats.count / 4).map {
                            Float(bitPattern: UInt32(bigEndian: floats.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                        }
                        if seen.updateValue(values, forKey: id) != nil { twice += 1 }
                        #expect(person == "p")
                    }
                }
            }
            #expect(twice == 0)
            #expect(Set(seen.keys) == Set(ids))
            for (ordinal, id) in ids.enumerated() { #expect(seen[id] == [Float](repeating: Float(ordinal + 1), count: 4)) }
        }
    }
}
