// Every error is problem+json with a stable code and the request id, unknown routes included.

@testable import EnfaceHTTP
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite struct ProblemTests {
    @Test(arguments: [
        (HTTPRequest.Method.get, "/nowhere"),
        (.get, "/v1/persons/../../etc/passwd"),
        (.post, "/healthz"),
        (.delete, "/"),
    ])
    func anUnknownRouteIsANotFoundProblem(_ method: HTTPRequest.Method, _ path: String) async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router) { client in
            try await client.execute(uri: path, method: method) { response in
                #expect(response.status == .notFound)
                let problem = try ProblemBody(response)
                #expect(problem.code == "not_found")
                #expect(problem.type.hasSuffix("/not-found"))
                #expect(response.headers[.cacheControl] == "no-store")
            }
        }
    }

    @Test func aPlainInboundRequestIDIsCarriedThrough() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router) { client in
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
        try await app.test(.router) { client in
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
        try await app.test(.router) { client in
            let first = try await client.execute(uri: "/healthz", method: .get).headers[.init("X-Request-ID")!]
            let second = try await client.execute(uri: "/healthz", method: .get).headers[.init("X-Request-ID")!]
            #expect(first != nil && second != nil && first != second)
        }
    }
}
