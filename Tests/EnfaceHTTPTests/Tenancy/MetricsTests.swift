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
            let scrape = try await enface.call(.get, "/metrics", headers: [.authorization: "Bearer \(TestConfiguration.operatorToken)"])
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
}
