// The OpenAPI document describes every route the application serves, and every problem code.

import EnfaceHTTP
import Foundation
import HummingbirdTesting
import TestSupport
import Testing

@Suite struct OpenAPITests {
    static let document: String = {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("Sources/EnfaceHTTP/OpenAPI/openapi.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// `METHOD /path` for every operation under `paths:` (two-space indented paths, four-space
    /// indented methods, as the document is written).
    static var documentedOperations: Set<String> {
        var operations: Set<String> = []
        var inPaths = false
        var path = ""
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") { inPaths = true; continue }
            if inPaths, let first = line.first, first != " " { break }
            if let match = line.wholeMatch(of: #/\ \ (\/\S*):\s*/#) { path = String(match.1); continue }
            if let match = line.firstMatch(of: #/^\ {4}(get|post|put|patch|delete):/#) {
                operations.insert("\(match.1.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let served = Set(
            try await routeDescriptions(TestConfiguration.withoutDatabase())
                .filter { !$0.hasPrefix("OPTIONS") }  // CORS preflight on /v1/**, answered for every path
                .map { $0.replacing(/:(\w+)/) { "{\($0.1)}" } })
        let documented = Self.documentedOperations
        #expect(served.count > 25)
        #expect(served.subtracting(documented).isEmpty, "routes missing from openapi.yaml: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented routes that do not exist: \(documented.subtracting(served).sorted())")
    }

    @Test func everyProblemCodeIsDocumented() throws {
        let sources = TestEnvironment.repositoryRoot.appendingPathComponent("Sources/EnfaceHTTP")
        var codes: Set<String> = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            for match in try String(contentsOf: file, encoding: .utf8).matches(of: /code: "([a-z_]+)"/) {
                codes.insert(String(match.1))
            }
        }
        // Field-level codes (inside `errors`) are documented in the README, not as problem codes.
        codes.subtract(["invalid_format", "invalid_value", "out_of_range"])
        #expect(codes.count > 20)
        for code in codes { #expect(Self.document.contains(code), "\(code) is not in openapi.yaml") }
    }

    @Test func theDocumentIsServed() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/yaml") == true)
            #expect(String(buffer: response.body).hasPrefix("openapi: 3.1.0"))
        }
    }
}
