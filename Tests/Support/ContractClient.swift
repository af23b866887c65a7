// Every answer a test receives is held to openapi.yaml: the clients tests use hand each answer to
// the contract, and each violation fails the test that saw it (as an issue at its call site).

import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

extension OpenAPIContract {
    /// Records a test issue for each way an answer breaks the contract.
    public func expectConforms(
        _ method: HTTPRequest.Method, _ path: String, _ status: HTTPResponse.Status, _ headers: HTTPFields, _ body: ByteBuffer?,
        sourceLocation: SourceLocation
    ) {
        let bytes = body.map { Array(buffer: $0) } ?? []
        for violation in violations(method: method.rawValue, path: path, status: status.code, contentType: headers[.contentType], body: bytes) {
            Issue.record("openapi.yaml: \(violation)", sourceLocation: sourceLocation)
        }
    }
}

/// Hummingbird's test client (router or live), with every answer checked.
public struct ContractClient: TestClientProtocol {
    let client: any TestClientProtocol
    let contract: OpenAPIContract
    let sourceLocation: SourceLocation

    public init(_ client: any TestClientProtocol, contract: OpenAPIContract = .served, sourceLocation: SourceLocation = #_sourceLocation) {
        self.client = client
        self.contract = contract
        self.sourceLocation = sourceLocation
    }

    public func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        contract.expectConforms(method, uri, response.status, response.headers, response.body, sourceLocation: sourceLocation)
        return response
    }

    public var port: Int? { client.port }
}

extension ApplicationProtocol {
    /// `test(_:_:)`, with every answer held to openapi.yaml.
    public func test<Value>(
        _ setup: TestingSetup, heldTo contract: OpenAPIContract, sourceLocation: SourceLocation = #_sourceLocation,
        _ test: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await self.test(setup) { client in
            try await test(ContractClient(client, contract: contract, sourceLocation: sourceLocation))
        }
    }
}

extension TestClient {
    /// `execute(_:)` on a connection of the test's own, with the answer held to openapi.yaml; no
    /// answer within `limit` is an error (`execute(_:within:)`).
    public func execute(
        _ request: Request, heldTo contract: OpenAPIContract, within limit: Duration = .seconds(150),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Response {
        let response = try await execute(request, within: limit)
        contract.expectConforms(
            request.head.method, request.head.path ?? "/", response.status, response.headers, response.body,
            sourceLocation: sourceLocation)
        return response
    }
}
