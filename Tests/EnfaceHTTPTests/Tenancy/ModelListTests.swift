// The model catalogue, from both planes: what a client needs before sending its first embedding.

import Foundation
import TestSupport
import Testing
import WireFormats

@Suite(.scratchDatabase)
struct ModelListTests {
    @Test func bothPlanesListTheCatalogueAndATenantLearnsItsOwnModel() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(model: "dlib-resnet-v1")
            // Any key reads it, whatever its scopes: the catalogue names no one.
            let narrow = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "search-only", "scopes": ["search"]])
            let key = try #require(narrow["apiKey"]?.stringValue, "\(narrow.body)")
            let listed = try await enface.call(.get, "/v1/models", key: key)
            #expect(listed.status == .ok && listed["tenantModel"] == "dlib-resnet-v1", "\(listed.body)")
            let models = listed["models"]?.arrayValue ?? []
            #expect(models.compactMap { $0["id"]?.stringValue } == ["arcface-buffalo-l", "dlib-resnet-v1", "facenet512", "sface"])
            let dlib = try #require(models.first { $0["id"] == "dlib-resnet-v1" })
            #expect(dlib["dimension"] == 128 && dlib["extractor"] != nil && dlib["metric"] == "cosine")
            #expect(dlib["defaultMatchThreshold"]?.numberValue != nil && dlib["thresholdSource"]?.stringValue?.isEmpty == false)
            // A model without an extractor says so by having none: send embeddings.
            #expect(models.first { $0["id"] == "arcface-buffalo-l" }?["extractor"] == nil)

            let operatorView = try await enface.admin(.get, "/models")
            #expect(operatorView.status == .ok && operatorView["tenantModel"] == nil)
            #expect(operatorView["models"] == listed["models"])
            // Each plane's credential opens only its own plane.
            #expect(try await enface.call(.get, "/v1/models").status == .unauthorized)
            #expect(try await enface.call(.get, "/v1/models", headers: enface.operatorHeaders).status == .unauthorized)
            #expect(try await enface.call(.get, "/admin/v1/models", key: key).status == .unauthorized)
        }
    }
}
