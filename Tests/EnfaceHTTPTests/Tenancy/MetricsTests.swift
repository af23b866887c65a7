// /metrics as Prometheus scrapes it: per tenant and route, bounded, behind an operator token.

import Foundation
import HTTPTypes
import Tenancy
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct MetricsTests {
    @Test func requestsAndRefusalsAreCountedByTenantRouteAndOutcome() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            for _ in 0..<3 { _ = try await enface.call(.get, "/v1/tenant", key: tenant.key) }
            _ = try await enface.call(.get, "/v1/tenant", key: APIKeySecret.generate().text)
            _ = try await enface.call(.get, "/v1/tenant", key: "nonsense")
            _ = try await enface.call(.get, "/v1/keys/\(UUID())/nothing?x=\(tenant.key)", key: tenant.key)
            let scrape = try await enface.call(.get, "/metrics", headers: enface.operatorHeaders)
            #expect(scrape.status == .ok)
            let lines = scrape.body.split(separator: "\n").map(String.init)
            let mine = lines.first { $0.hasPrefix("enface_http_requests_total{") && $0.contains("tenant=\"\(tenant.slug)\"") && $0.contains("2xx") }
            #expect(mine?.contains("route=\"/v1/tenant\"") == true && mine?.hasSuffix(" 3") == true, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("enface_auth_failures_total{") && $0.contains("reason=\"unknownKey\"") })
            #expect(lines.contains { $0.hasPrefix("enface_auth_failures_total{") && $0.contains("reason=\"malformedCredential\"") })
            // Labels are route templates and slugs: never a path with ids, a query or a key.
            #expect(!scrape.body.contains(tenant.key) && !scrape.body.contains(tenant.id))
        }
    }

    @Test func latencyScanTimeAndEachTenantsIndexAreMeasured() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 77)
            let faces = (0..<3).map { _ in vectors.identity() }
            for (index, face) in faces.enumerated() {
                let enrolled = try await enface.call(.post, "/v1/persons/p\(index)/faces", key: tenant.key, json: ["embedding": Embeddings.json(face)])
                #expect(enrolled.status == .created)
            }
            func scrape() async throws -> [String] {
                let scrape = try await enface.call(.get, "/metrics", headers: enface.operatorHeaders)
                return scrape.body.split(separator: "\n").map(String.init)
            }
            // The shard is in memory once a search has loaded it (the first may go to pgvector).
            let lines = try await poll("the tenant's shard gauges") { () -> [String]? in
                _ = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(faces[0])])
                let lines = try await scrape()
                return Self.value(in: lines, "enface_index_faces{tenant=\"\(tenant.slug)\"}") == 3 ? lines : nil
            }
            #expect((Self.value(in: lines, "enface_index_bytes{tenant=\"\(tenant.slug)\"}") ?? 0) > 3 * 512 * 4)
            // Every request's latency, by route template, in a histogram.
            let searches = lines.first { $0.hasPrefix("enface_http_request_duration_seconds_count{") && $0.contains("route=\"/v1/search\"") }
            #expect(searches.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("enface_http_request_duration_seconds_bucket{") && $0.contains("le=\"0.005\"") })
            // The scan of each search, by how it was answered.
            let scans = lines.filter { $0.hasPrefix("enface_search_scan_seconds_count{") }
            #expect(scans.contains { $0.contains("mode=\"fp32\"") }, "\(scans)")
            #expect(lines.contains { $0.hasPrefix("enface_searches_total{source=\"memory\"}") })
            // A shard that leaves memory leaves no series behind.
            #expect(try await enface.admin(.post, "/tenants/\(tenant.id)/suspend", json: ["reason": "test"]).status == .ok)
            #expect(try await enface.admin(.delete, "/tenants/\(tenant.id)").status == .ok)
            try await poll("the deleted tenant's gauges to go") { () -> Bool? in
                try await scrape().contains { $0.contains("tenant=\"\(tenant.slug)\"") && $0.hasPrefix("enface_index_") } ? nil : true
            }
        }
    }

    /// The value of the series named exactly `series` (name and labels) in a scrape.
    static func value(in lines: [String], _ series: String) -> Double? {
        lines.first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
    }
}
