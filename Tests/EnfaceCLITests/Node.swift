// `enface serve` as a child process: a real node on a free port of 127.0.0.1, against the
// enclosing suite's scratch database, spoken to over HTTP.

import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

struct Node {
    static let operatorToken = "cli-tests-operator-token"
    static let operatorHeaders: HTTPFields = [.authorization: "Bearer \(operatorToken)"]

    let process: EnfaceProcess
    let port: Int

    /// Starts a node with the suite's database (or, with `ownDatabase`, the embedded one
    /// `environment`'s ENFACE_DATA_DIR holds) and `environment`, and waits until it listens.
    static func start(_ environment: [String: String], ownDatabase: Bool = false) async throws -> Node {
        let hash = SHA256.hash(data: Data(operatorToken.utf8)).map { String(format: "%02x", $0) }.joined()
        let database =
            ownDatabase
            ? ["ENFACE_DATABASE_URL": "", "ENFACE_DATABASE_APP_URL": "", "ENFACE_DATABASE_ADMIN_URL": ""]
            : try ScratchDatabase.required().environment
        let process = try EnfaceProcess(
            ["serve"],
            environment: database
                .merging([
                    "ENFACE_HTTP_PORT": "0", "ENFACE_ADMIN_TOKENS": "tester:\(hash)", "ENFACE_LOG_LEVEL": "info",
                    "ENFACE_DATABASE_POOL_SIZE": "8",
                ]) { $1 }
                .merging(environment) { $1 })
        let port = try await poll(timeout: .seconds(60), "the server to listen") { () -> Int? in
            if !process.process.isRunning {
                throw TestEnvironmentError(
                    "enface serve exited (\(process.process.terminationReason == .uncaughtSignal ? "signal" : "status") \(process.process.terminationStatus)): \(process.text)")
            }
            guard let match = process.text.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/) else { return nil }
            return Int(match.1)
        }
        return Node(process: process, port: port)
    }

    /// SIGTERM, then waits for a graceful exit.
    func stop() async throws {
        process.signal(SIGTERM)
        _ = try await process.waitForExit(timeout: .seconds(60))
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(60))) { client in
            var headers = headers
            if body != nil { headers[.contentType] = "application/json" }
            let response = try await client.execute(
                .init(path, method: method, authority: "127.0.0.1", headers: headers, body: body.map { ByteBuffer(string: $0) }),
                heldTo: .served, sourceLocation: sourceLocation)
            let json = response.body.flatMap { try? JSONSerialization.jsonObject(with: Data(buffer: $0)) as? [String: Any] } ?? [:]
            return (response.status, json)
        }
    }

    /// A GET's body as text (for what is not JSON, such as /metrics).
    func text(_ path: String, headers: HTTPFields = [:]) async throws -> String {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(60))) { client in
            let response = try await client.execute(.init(path, method: .get, authority: "127.0.0.1", headers: headers), heldTo: .served)
            return response.body.map { String(buffer: $0) } ?? ""
        }
    }

    /// An active tenant made through the operator plane: its id and the API-key header.
    func createTenant(_ slug: String, quotas: String = #"{"requestsPerMinute":100000}"#) async throws -> (id: String, headers: HTTPFields) {
        let (created, tenant) = try await request(
            .post, "/admin/v1/tenants", headers: Self.operatorHeaders, body: #"{"name":"\#(slug)","slug":"\#(slug)","quotas":\#(quotas)}"#)
        try #require(created == .created, "\(tenant)")
        let key = try #require(tenant["apiKey"] as? String)
        let id = try #require((tenant["tenant"] as? [String: Any])?["id"] as? String)
        let (activated, _) = try await request(.post, "/admin/v1/tenants/\(id)/activate", headers: Self.operatorHeaders)
        try #require(activated == .ok)
        return (id, [.init("X-API-Key")!: key])
    }

    /// The persons a search for `vector` finds, best first.
    func persons(matching vector: [Float], headers: HTTPFields) async throws -> [(person: String, score: Double)] {
        let (status, answer) = try await request(.post, "/v1/search", headers: headers, body: Self.json(vector))
        try #require(status == .ok, "\(answer)")
        return (answer["matches"] as? [[String: Any]] ?? []).map { ($0["personId"] as? String ?? "", $0["score"] as? Double ?? 0) }
    }

    static func embedding(_ seed: Int) -> [Float] {
        var generator = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 1)
        return generator.vector(512)
    }

    static func json(_ vector: [Float], _ extra: String = "") -> String {
        "{\"embedding\": [" + vector.map { "\($0)" }.joined(separator: ",") + "]" + extra + "}"
    }
}
