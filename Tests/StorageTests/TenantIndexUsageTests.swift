// A tenant's query must find its rows through an index that leads with tenant_id, not by
// scanning everyone's rows, however many other tenants there are.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct TenantIndexUsageTests {
    @Test func aOneTenantQueryUsesATenantLedIndexAmongAHundredThousandFaces() async throws {
        let database = try ScratchDatabase.required()
        let others = (0..<10).map { _ in UUID() }
        let tenant = UUID()
        for id in others + [tenant] {
            try await database.createTenant(id)
        }
        try await database.withPool(.app) { app in
            for other in others {
                try await app.withTenant(other) { tx in
                    try await tx.query(
                        """
                        INSERT INTO persons (tenant_id, id, wrapped_key)
                        SELECT \(other), 'p' || g, '\\x00' FROM generate_series(1, 100) AS g
                        """)
                    try await tx.query(
                        """
                        INSERT INTO faces (tenant_id, id, person_id, sealed)
                        SELECT \(other), gen_random_uuid(), 'p' || (1 + g % 100), '\\x00'
                          FROM generate_series(1, 10000) AS g
                        """)
                }
            }
            try await app.withTenant(tenant) { tx in
                try await tx.insertOneRowPerTable()
            }
        }
        try await database.withConnection(.owner) { connection in
            try await connection.query("ANALYZE faces", logger: TestEnvironment.logger)
            try await connection.query("ANALYZE persons", logger: TestEnvironment.logger)
        }

        try await database.withPool(.app) { app in
            try await app.withTenant(tenant) { tx in
                #expect(try await count("faces", on: tx.connection) == 1)
                let queries: [PostgresQuery] = [
                    "EXPLAIN (FORMAT JSON) SELECT id, person_id FROM faces WHERE tenant_id = \(tenant)",
                    "EXPLAIN (FORMAT JSON) SELECT id FROM faces WHERE tenant_id = \(tenant) AND person_id = 'alice'",
                    "EXPLAIN (FORMAT JSON) SELECT id FROM persons WHERE tenant_id = \(tenant)",
                ]
                for query in queries {
                    let plan = try await tx.query(query).collect().first!.decode(String.self)
                    let nodes = try PlanNode.flatten(json: plan)
                    #expect(!nodes.contains { $0.type == "Seq Scan" }, "\(query.sql): \(plan)")
                    #expect(
                        nodes.contains { $0.index.map { ["faces_pkey", "faces_tenant_person", "persons_pkey"].contains($0) } ?? false },
                        "\(query.sql): \(plan)")
                }
            }
        }
    }
}

/// The nodes of an `EXPLAIN (FORMAT JSON)` plan.
struct PlanNode {
    var type: String
    var index: String?

    static func flatten(json: String) throws -> [PlanNode] {
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        var nodes: [PlanNode] = []
        func visit(_ node: [String: Any]) {
            nodes.append(PlanNode(type: node["Node Type"] as? String ?? "", index: node["Index Name"] as? String))
            for child in node["Plans"] as? [[String: Any]] ?? [] { visit(child) }
        }
        for entry in document ?? [] {
            if let plan = entry["Plan"] as? [String: Any] { visit(plan) }
        }
        return nodes
    }
}
