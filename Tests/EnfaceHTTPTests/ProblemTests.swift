// Every error is problem+json with a stable code and the request id, unknown routes included.

@testable import EnfaceHTTP
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TestSupport

@Suite struct ProblemTests {
    @Test(arguments: [
        (HTTPRequest.Method.get, "/nowhere"),
        (.get, "/v1/persons/../../etc/passwd"),
        (.delete, "/"),
    ])
    func anUnknownRouteIsANotFoundProblem(_ method: HTTPRequest.Method, _ path: String) async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router, heldTo: .served) { client in
            try await client.execute(uri: path, method: method) { response in
                #expect(response.status == .notFound)
                let problem = try ProblemBody(response)
                #expect(problem.code == "not_found")
                #expect(problem.type.hasSuffix("/not-found"))
                #expect(response.headers[.cacheControl] == "no-store")
            }
        }
    }

    @Test(arguments: [
        (HTTPRequest.Method.post, "/healthz", "GET, OPTIONS"),
        (.put, "/v1/search", "OPTIONS, POST"),
        (.get, "/v1/verify", "OPTIONS, POST"),
        (.post, "/v1/persons/alice", "DELETE, GET, OPTIONS"),
        (.patch, "/admin/v1/tenants/acme/activate", "OPTIONS, POST"),
    ])
    func aKnownPathWithAnotherMethodIs405WithAllow(_ method: HTTPRequest.Method, _ path: String, _ allow: String) async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router, heldTo: .served) { client in
            try await client.execute(uri: path, method: method) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == allow)
                let problem = try ProblemBody(response)
                #expect(problem.code == "method_not_allowed")
            }
        }
    }

    @Test func anOversizedHeaderIsA431Problem() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.live, heldTo: .served) { client in
            // The parser refuses it before any route runs; the answer is still a problem, then close.
            let connection = try RawConnection(port: try #require(client.port))
            connection.send("GET /v1/tenant HTTP/1.1\r\nHost: localhost\r\nX-API-Key: efk_\(String(repeating: "A", count: 20_000))\r\n\r\n")
            let answer = try #require(connection.readUntilClosed(timeout: .seconds(10)))
            #expect(answer.hasPrefix("HTTP/1.1 431"), "\(answer)")
            #expect(answer.contains("Content-Type: application/problem+json"))
            #expect(answer.contains(#""code":"header_too_large""#))
            // 8 KB is a long key, not a malformed request: the usual 401.
            let long = try await client.execute(
                uri: "/v1/tenant", method: .get, headers: [EnfaceClient.apiKey: "efk_" + String(repeating: "A", count: 8_192)])
            let problem = try ProblemBody(long)
            #expect(long.status == .unauthorized && problem.code == "unauthenticated")
        }
    }

    @Test func aPlainInboundRequestIDIsCarriedThrough() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router, heldTo: .served) { client in
            try await client.execute(uri: "/nowhere", method: .get, headers: [.init("X-Request-ID")!: "lb-7f3a:42"]) {
                response in
                let problem = try ProblemBody(response)
                #expect(problem.requestId == "lb-7f3a:42")
            }
        }
    }

    @Test func generatedRequestIDsAreAlways32HexDigits() {
        // Hummingbird leaves its random prefix unpadded: one process in sixteen made 31.
        #expect(RequestIDMiddleware.padded("f" + String(repeating: "1", count: 30)) == "0f" + String(repeating: "1", count: 30))
        #expect(RequestIDMiddleware.padded(String(repeating: "a", count: 32)) == String(repeating: "a", count: 32))
    }

    @Test(arguments: ["", "has space", String(repeating: "a", count: 129), "quote\"d", "new\nline", "ünïcode"])
    func anUnsafeInboundRequestIDIsReplaced(_ inbound: String) async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router, heldTo: .served) { client in
            var headers = HTTPFields()
            headers.append(HTTPField(name: .init("X-Request-ID")!, value: inbound))
            try await client.execute(uri: "/healthz", method: .get, headers: headers) { response in
                let id = try #require(response.headers[.init("X-Request-ID")!])
                #expect(id != inbound)
                #expect(id.count == 32)
            }
        }
    }

    @Test func everyResponseHasARequestIDAndIdsDiffer() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router, heldTo: .served) { client in
            let first = try await client.execute(uri: "/healthz", method: .get).headers[.init("X-Request-ID")!]
            let second = try await client.execute(uri: "/healthz", method: .get).headers[.init("X-Request-ID")!]
            #expect(first != nil && second != nil && first != second)
        }
    }
}
