// The OpenAPI document is valid, describes every route the application serves and every problem
// code, and the checker that holds every answer in the suite to it catches what breaks it.

import EnfaceHTTP
import Foundation
import HummingbirdTesting
import Tenancy
import TestSupport
import Testing
import WireFormats

@Suite struct OpenAPITests {
    static let contract = OpenAPIContract.served
    static let document: String = {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("Sources/EnfaceHTTP/OpenAPI/openapi.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// `METHOD /path` for every operation under `paths:`.
    static var documentedOperations: Set<String> {
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var operations: Set<String> = []
        for (path, item) in contract.document.objectValue?["paths"]?.objectValue ?? [:] {
            for method in (item.objectValue ?? [:]).keys where methods.contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func theDocumentReadsAndEverySchemaInItCanBeChecked() throws {
        #expect(Self.contract.unreadable == nil, "\(Self.contract.unreadable ?? "")")
        #expect(Self.contract.document.objectValue?["openapi"] == "3.1.0")
        // Every schema the document holds uses only what the validator checks, and every
        // reference resolves: a schema the checker would skip cannot hide drift.
        var schemas = 0
        func visit(_ node: JSONValue, _ pointer: String) {
            switch node {
            case .object(let fields):
                for (key, value) in fields {
                    if key == "schema" {
                        schemas += 1
                        #expect(throws: Never.self, "\(pointer)/schema") { try JSONSchema(value, in: Self.contract.document) }
                    } else {
                        visit(value, pointer + "/" + key)
                    }
                }
            case .array(let items):
                for (index, item) in items.enumerated() { visit(item, pointer + "/\(index)") }
            default:
                break
            }
        }
        visit(Self.contract.document, "")
        for (name, schema) in Self.contract.document.objectValue?["components"]?.objectValue?["schemas"]?.objectValue ?? [:] {
            schemas += 1
            #expect(throws: Never.self, "components/schemas/\(name)") { try JSONSchema(schema, in: Self.contract.document) }
        }
        #expect(schemas > 40)
    }

    /// What middleware answers before a route runs can meet any request: a credential refused or
    /// rate-limited, the database away, a body malformed, too large or of another type.
    @Test func everyOperationListsTheRefusalsAnyRequestCanMeet() {
        let document = Self.contract.document.objectValue ?? [:]
        let methods: Set<String> = ["get", "put", "post", "delete", "patch"]
        var checked = 0
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            for (method, operation) in item.objectValue ?? [:] where methods.contains(method) {
                let fields = operation.objectValue ?? [:]
                let listed = Set((fields["responses"]?.objectValue ?? [:]).keys)
                var expected: Set<String> = []
                if (fields["security"] ?? document["security"]) != .array([]) {
                    expected.formUnion(["401", "429", "503"])
                    if path.hasPrefix("/v1/") { expected.insert("403") }
                }
                if fields["requestBody"] != nil { expected.formUnion(["400", "413", "415", "422"]) }
                #expect(expected.isSubset(of: listed), "\(method.uppercased()) \(path) lists no \(expected.subtracting(listed).sorted())")
                checked += 1
            }
        }
        #expect(checked > 25)
    }

    @Test func anAnswerThatBreaksTheDocumentIsCaught() throws {
        let contract = Self.contract
        func violations(_ method: String, _ path: String, _ status: Int, _ body: String, type: String = "application/json") -> [String] {
            contract.violations(method: method, path: path, status: status, contentType: type, body: Array(body.utf8))
        }
        let person = #"{"personId":"alice","faceCount":1,"createdAt":"2026-01-01T00:00:00Z","faces":[]}"#
        #expect(violations("GET", "/v1/persons/alice", 200, person) == [])
        #expect(violations("GET", "/v1/persons/alice", 200, #"{"personId":"alice"}"#).contains { $0.contains("required") })
        #expect(violations("GET", "/v1/persons/alice", 200, #"{"personId":7,"faceCount":1,"createdAt":"x"}"#).contains { $0.contains("/personId") })
        #expect(!violations("GET", "/v1/persons/alice", 200, person, type: "text/plain").isEmpty, "a media type the document does not name")
        #expect(!violations("GET", "/v1/persons/alice", 418, #"{"a":1}"#).isEmpty, "a status the document does not list")
        #expect(!violations("GET", "/v1/nowhere", 200, "{}").isEmpty, "a success from a route the document does not have")
        let problem = #"{"type":"https://enface.dev/problems/not-found","title":"Not Found","status":404,"code":"not_found","requestId":"r"}"#
        #expect(violations("GET", "/v1/nowhere", 404, problem, type: "application/problem+json") == [])
        #expect(!violations("GET", "/v1/nowhere", 404, #"{"message":"no"}"#, type: "application/problem+json").isEmpty)
        #expect(!violations("DELETE", "/v1/persons/alice", 204, "{}").isEmpty, "a body where the document says none")
        // A literal path segment wins over a parameter.
        let paths = try OpenAPIContract(yaml: "openapi: 3.1.0\npaths:\n  /a/{x}: {}\n  /a/b: {}\n")
        #expect(paths.template(for: "/a/b") == "/a/b" && paths.template(for: "/a/c") == "/a/{x}")
        #expect(paths.template(for: "/a/") == nil && paths.template(for: "/a/b/c") == nil)
        #expect(contract.template(for: "/v1/persons/bob?x=1") == "/v1/persons/{personId}")
        #expect(contract.template(for: "/admin/v1/tenants/acme/keys/k1") == "/admin/v1/tenants/{tenant}/keys/{key}")
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let served = Set(
            try await routeDescriptions(TestConfiguration.withoutDatabase())
                .filter { !$0.hasPrefix("OPTIONS") }  // CORS preflight on /v1/**, answered for every path
                .map { $0.replacing(/\/:(\w+)/) { "/{\($0.1)}" } })  // a parameter segment; `faces:batch` is a name
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
        try await app.test(.router, heldTo: .served) { client in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/yaml") == true)
            #expect(String(buffer: response.body).hasPrefix("openapi: 3.1.0"))
        }
    }
}
