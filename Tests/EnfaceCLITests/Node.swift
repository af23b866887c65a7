// `enface serve` as a child process: a real node on a free port of 127.0.0.1, against the
// enclosing suite's scratch database, spoken to over HTTP.

import Crypto
import Foundation
import HTTPTypes
import TestSupport
import Testing
import WireFormats

struct Node {
    static let operatorToken = "cli-tests-operator-token"

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
                    // A busy suite can leave a client's connection idle past the 30 s default
                    // before it writes (see TestConfiguration in EnfaceHTTPTests).
                    "ENFACE_HTTP_IDLE_TIMEOUT_SECONDS": "600",
                ]) { $1 }
                .merging(environment) { $1 })
        let port = try await poll(timeout: .seconds(60), "the server to listen") { () -> Int? in
            if let status = process.process.terminationStatus {
                throw TestEnvironmentError(
                    "enface serve exited (\(process.process.endedBySignal ? "signal" : "status") \(status)): \(process.text)")
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

    /// The tests' one client, speaking to this node.
    var client: EnfaceClient {
        EnfaceClient(port: port, operatorToken: Self.operatorToken) { [process] in String(process.text.suffix(20_000)) }
    }

    /// An active tenant made through the operator plane: its id and the API-key header.
    func createTenant(_ slug: String, quotas: JSONValue = ["requestsPerMinute": 100_000]) async throws -> (id: String, headers: HTTPFields) {
        let tenant = try await client.createTenant(slug, quotas: quotas)
        return (tenant.id, tenant.headers)
    }

    /// The persons a search for `vector` finds, best first.
    func persons(
        matching vector: [Float], headers: HTTPFields, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [(person: String, score: Double)] {
        let found = try await client.call(.post, "/v1/search", headers: headers, body: Self.json(vector), sourceLocation: sourceLocation)
        try #require(found.status == .ok, "\(found.body)", sourceLocation: sourceLocation)
        return (found["matches"]?.arrayValue ?? []).map {
            ($0["personId"]?.stringValue ?? "", $0["score"]?.numberValue ?? 0)
        }
    }

    static func embedding(_ seed: Int) -> [Float] {
        var generator = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 1)
        return generator.vector(512)
    }

    static func json(_ vector: [Float], _ extra: String = "") -> String {
        "{\"embedding\": [" + vector.map { "\($0)" }.joined(separator: ",") + "]" + extra + "}"
    }
}
