// A read split between connections sees one moment: what commits after the first part began is
// in no part, and each part sees only its tenant.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct SharedSnapshotTests {
    @Test func everyPartReadsTheMomentTheFirstOneBeganAt() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let (before, counts) = try await app.withSharedSnapshot(tenants.a, parts: 3) { transaction in
                let before = try await count("persons", on: transaction.connection)
                // Committed on another connection after this transaction's snapshot was taken,
                // before the other parts begin: no part may see it.
                try await app.withTenant(tenants.a) { other in
                    try await other.run("INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(tenants.a), 'late', '\\x00')")
                }
                return before
            } _: { _, part, transaction in
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
}
