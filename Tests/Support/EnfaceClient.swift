// What tests say to a running Enface: one client, whether the server runs in the test's process
// (Hummingbird's live test server) or as `enface serve` in a child process. Every answer is held
// to openapi.yaml, each violation recorded at the call that received it.

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import WireFormats

/// One answer: status, headers, and the body (read as JSON, problem bodies included).
public struct Reply: Sendable {
    public let status: HTTPResponse.Status
    public let headers: HTTPFields
    public let body: String

    public init(status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer?) {
        self.status = status
        self.headers = headers
        self.body = body.map { String(buffer: $0) } ?? ""
    }

    public var json: JSONValue { JSONValue.parse(Data(body.utf8)) ?? .null }
    public subscript(_ key: String) -> JSONValue? { json.objectValue?[key] }
    /// The problem's stable code, for error answers.
    public var code: String? { self["code"]?.stringValue }
    /// The pointers of a 422's field errors.
    public var pointers: [String] { (self["errors"]?.arrayValue ?? []).compactMap { $0.objectValue?["pointer"]?.stringValue } }
    /// The body without the one field that differs between two identical refusals.
    public var bodyWithoutRequestID: JSONValue {
        guard var object = json.objectValue else { return json }
        object["requestId"] = nil
        return .object(object)
    }
}

/// A tenant the tests created: its id, slug and first key (every scope).
public struct CreatedTenant: Sendable {
    public let id: String
    public let slug: String
    public let key: String

    /// The key as the header a tenant sends.
    public var headers: HTTPFields { [EnfaceClient.apiKey: key] }
}

public struct EnfaceClient: Sendable {
    public static let apiKey = HTTPField.Name("X-API-Key")!

    private let send: @Sendable (HTTPRequest.Method, String, HTTPFields, ByteBuffer?) async throws -> (HTTPResponse, ByteBuffer?)
    /// The operator token the server was started with, for `admin`.
    public let operatorToken: String
    /// The server's port on 127.0.0.1.
    public let port: Int?

    /// Over one of Hummingbird's test clients (a server in this process).
    public init(_ client: any TestClientProtocol, operatorToken: String) {
        send = { method, path, headers, body in
            let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
            return (response.head, response.body)
        }
        self.operatorToken = operatorToken
        port = client.port
    }

    /// To a server on 127.0.0.1:`port`, each request on a connection of its own, answered within
    /// 90 s or failed with `NoAnswer`, which quotes `server` (its log, say).
    public init(port: Int, operatorToken: String, server: @escaping @Sendable () -> String = { "" }) {
        send = { method, path, headers, body in
            try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(60))) { client in
                let response = try await client.execute(
                    .init(path, method: method, authority: "127.0.0.1", headers: headers, body: body), within: .seconds(90), server: server)
                return (response.head, response.body)
            }
        }
        self.operatorToken = operatorToken
        self.port = port
    }

    /// A request as a tenant (with `key`, as `X-API-Key` unless other headers are given) or anonymous.
    /// A JSON body (`json` or `body`) is sent as application/json; `bytes` as they are.
    public func call(
        _ method: HTTPRequest.Method, _ path: String, key: String? = nil, headers: HTTPFields = [:], json: JSONValue? = nil,
        body: String? = nil, bytes: [UInt8]? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Reply {
        var headers = headers
        if let key { headers[Self.apiKey] = key }
        let text = body ?? json?.canonical
        if text != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let sent = bytes.map { ByteBuffer(bytes: $0) } ?? text.map { ByteBuffer(string: $0) }
        let (head, received) = try await send(method, path, headers, sent)
        OpenAPIContract.served.expectConforms(method, path, head.status, head.headerFields, received, sourceLocation: sourceLocation)
        return Reply(status: head.status, headers: head.headerFields, body: received)
    }

    /// A request on the operator plane (`/admin/v1` + `path`), with the operator token.
    public func admin(
        _ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Reply {
        try await call(method, "/admin/v1" + path, headers: operatorHeaders, json: json, sourceLocation: sourceLocation)
    }

    /// The operator token as the header an operator sends.
    public var operatorHeaders: HTTPFields { [.authorization: "Bearer \(operatorToken)"] }

    /// Creates a tenant through the operator API (and activates it unless asked not to).
    public func createTenant(
        _ slug: String = "t-" + String(UUID().uuidString.prefix(8)).lowercased(), plan: String = "starter",
        quotas: JSONValue? = nil, settings: JSONValue? = nil, model: String? = nil, activate: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CreatedTenant {
        var request: [String: JSONValue] = ["name": .string("Tenant \(slug)"), "slug": .string(slug), "plan": .string(plan)]
        if let model { request["model"] = .string(model) }
        if let quotas { request["quotas"] = quotas }
        if let settings { request["settings"] = settings }
        let created = try await admin(.post, "/tenants", json: .object(request), sourceLocation: sourceLocation)
        try #require(created.status == .created, "\(created.body)", sourceLocation: sourceLocation)
        let id = try #require(created["tenant"]?.objectValue?["id"]?.stringValue, sourceLocation: sourceLocation)
        let key = try #require(created["apiKey"]?.stringValue, sourceLocation: sourceLocation)
        if activate {
            let activated = try await admin(.post, "/tenants/\(id)/activate", sourceLocation: sourceLocation)
            try #require(activated.status == .ok, "\(activated.body)", sourceLocation: sourceLocation)
        }
        return CreatedTenant(id: id, slug: slug, key: key)
    }
}
