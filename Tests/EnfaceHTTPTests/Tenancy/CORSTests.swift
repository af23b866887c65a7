// Browsers calling the data plane from another origin: the preflight a browser sends before a
// cross-origin POST with a JSON body and an API key, and the answer it then reads.

import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct CORSTests {
    /// The headers Chromium sends before `fetch(url, {method: "POST", headers: {"Content-Type":
    /// "application/json", "X-API-Key": key}})` from `origin`.
    static func preflight(_ origin: String, method: String = "POST") -> HTTPFields {
        [
            .origin: origin, .accessControlRequestMethod: method,
            .accessControlRequestHeaders: "content-type,x-api-key", .accept: "*/*",
            HTTPField.Name("Sec-Fetch-Mode")!: "cors", HTTPField.Name("Sec-Fetch-Site")!: "cross-site",
        ]
    }

    @Test func everyRouteAnswersAPreflightAndOnlyAllowedOriginsReadTheAnswer() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(settings: ["allowedOrigins": ["https://app.acme.example"]])
            for (path, method) in [("/v1/search", "POST"), ("/v1/persons/alice/faces", "POST"), ("/v1/tenant/settings", "PATCH"),
                                   ("/v1/persons/alice", "DELETE"), ("/v1/verify", "POST")] {
                let answer = try await enface.call(.options, path, headers: Self.preflight("https://app.acme.example", method: method))
                #expect(answer.status == .noContent, "\(path): \(answer.status)")
                #expect(answer.headers[.accessControlAllowOrigin] == "https://app.acme.example", "\(path)")
                #expect(answer.headers[.accessControlAllowMethods]?.contains(method) == true, "\(path)")
                let allowed = answer.headers[.accessControlAllowHeaders]?.lowercased() ?? ""
                #expect(allowed.contains("content-type") && allowed.contains("x-api-key"), "\(path)")
            }
            // The real request: the allowed origin may read the answer, another origin may not.
            var vectors = Embeddings(seed: 80)
            let body: JSONValue = ["embedding": Embeddings.json(vectors.identity())]
            let allowed = try await enface.call(
                .post, "/v1/search", key: tenant.key, headers: [.origin: "https://app.acme.example"], json: body)
            #expect(allowed.status == .ok && allowed.headers[.accessControlAllowOrigin] == "https://app.acme.example")
            let other = try await enface.call(.post, "/v1/search", key: tenant.key, headers: [.origin: "https://evil.example"], json: body)
            #expect(other.headers[.accessControlAllowOrigin] == nil)
            // Something that is not an origin gets no CORS answer at all.
            let junk = try await enface.call(.options, "/v1/search", headers: Self.preflight("javascript:alert(1)"))
            #expect(junk.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func aHostNamingATenantAnswersPreflightsWithThatTenantsOrigins() async throws {
        try await LiveService.run(["ENFACE_TENANT_HOST_SUFFIX": "tenants.example"]) { enface in
            let tenant = try await enface.createTenant(settings: ["allowedOrigins": ["https://app.acme.example"]])
            let port = try #require(enface.port)
            func preflight(_ origin: String) async throws -> String? {
                try await TestClient.withClient(host: "localhost", port: port) { client in
                    try await client.execute(.init(
                        "/v1/search", method: .options, authority: "\(tenant.slug).tenants.example", headers: Self.preflight(origin)),
                        heldTo: .served
                    ).headers[.accessControlAllowOrigin]
                }
            }
            #expect(try await preflight("https://app.acme.example") == "https://app.acme.example")
            #expect(try await preflight("https://evil.example") == nil)
        }
    }
}
