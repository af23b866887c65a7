// Enface running for real on 127.0.0.1 against a scratch database, and what tests say to it.

import EnfaceHTTP
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Tenancy
import Testing
import TestSupport
import WireFormats

/// One answer: status, headers, and the body as JSON (problem bodies included).
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: String

    init(_ response: TestResponse) {
        status = response.status
        headers = response.headers
        body = String(buffer: response.body)
    }

    var json: JSONValue { JSONValue.parse(Data(body.utf8)) ?? .null }
    subscript(_ key: String) -> JSONValue? { json.objectValue?[key] }
    /// The problem's stable code, for error answers.
    var code: String? { self["code"]?.stringValue }
    /// The pointers of a 422's field errors.
    var pointers: [String] { (self["errors"]?.arrayValue ?? []).compactMap { $0.objectValue?["pointer"]?.stringValue } }
    /// The body without the one field that differs between two identical refusals.
    var bodyWithoutRequestID: JSONValue {
        guard var object = json.objectValue else { return json }
        object["requestId"] = nil
        return .object(object)
    }
}

/// A tenant the tests created: its id, slug and first key (every scope).
struct CreatedTenant: Sendable {
    let id: String
    let slug: String
    let key: String
}

/// The client side of a running Enface.
struct LiveService: Sendable {
    let client: any TestClientProtocol

    /// Runs Enface (the same `buildApplication` as `enface serve`) on 127.0.0.1 for the length
    /// of `body`, against the enclosing suite's scratch database.
    static func run(
        _ environment: [String: String] = [:], _ body: @Sendable (LiveService) async throws -> Void
    ) async throws {
        let app = try await buildApplication(TestConfiguration.make(database: ScratchDatabase.required(), environment))
        try await app.test(.live, heldTo: .served) { client in try await body(LiveService(client: client)) }
    }

    /// A request as a tenant (with `key`, as `X-API-Key` unless other headers are given) or anonymous.
    func call(
        _ method: HTTPRequest.Method, _ path: String, key: String? = nil, headers: HTTPFields = [:], json: JSONValue? = nil,
        body: String? = nil, bytes: [UInt8]? = nil
    ) async throws -> Reply {
        var headers = headers
        if let key { headers[.init("X-API-Key")!] = key }
        let text = body ?? json?.canonical
        if text != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return Reply(
            try await client.executeRequest(
                uri: path, method: method, headers: headers,
                body: bytes.map { ByteBuffer(bytes: $0) } ?? text.map { ByteBuffer(string: $0) }))
    }

    /// A request on the operator plane, with the tests' operator token.
    func admin(_ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil) async throws -> Reply {
        try await call(
            method, "/admin/v1" + path, headers: [.authorization: "Bearer \(TestConfiguration.operatorToken)"], json: json)
    }

    /// Creates a tenant through the operator API (and activates it unless asked not to).
    func createTenant(
        _ slug: String = "t-" + String(UUID().uuidString.prefix(8)).lowercased(), plan: String = "starter",
        quotas: JSONValue? = nil, settings: JSONValue? = nil, model: String? = nil, activate: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CreatedTenant {
        var request: [String: JSONValue] = ["name": .string("Tenant \(slug)"), "slug": .string(slug), "plan": .string(plan)]
        if let model { request["model"] = .string(model) }
        if let quotas { request["quotas"] = quotas }
        if let settings { request["settings"] = settings }
        let created = try await admin(.post, "/tenants", json: .object(request))
        try #require(created.status == .created, "\(created.body)", sourceLocation: sourceLocation)
        let id = try #require(created["tenant"]?.objectValue?["id"]?.stringValue, sourceLocation: sourceLocation)
        let key = try #require(created["apiKey"]?.stringValue, sourceLocation: sourceLocation)
        if activate {
            let activated = try await admin(.post, "/tenants/\(id)/activate")
            try #require(activated.status == .ok, "\(activated.body)", sourceLocation: sourceLocation)
        }
        return CreatedTenant(id: id, slug: slug, key: key)
    }
}
