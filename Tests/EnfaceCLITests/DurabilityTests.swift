// Nothing acknowledged is ever lost: enroll under load, kill -9 the server, start another, and
// find every acknowledged face with its exact score; nothing is half there.

import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct DurabilityTests {
    static let operatorToken = "durability-operator-token"
    static let masterKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()

    /// `enface serve` on a free port, against the suite's database; returns it and its port.
    static func serve() async throws -> (EnfaceProcess, Int) {
        let hash = SHA256.hash(data: Data(operatorToken.utf8)).map { String(format: "%02x", $0) }.joined()
        let server = try EnfaceProcess(
            ["serve"],
            environment: try ScratchDatabase.required().environment.merging([
                "ENFACE_HTTP_PORT": "0", "ENFACE_MASTER_KEY": masterKey, "ENFACE_ADMIN_TOKENS": "tester:\(hash)",
            ]) { $1 })
        let port = try await poll(timeout: .seconds(60), "the server to listen") { () -> Int? in
            guard let match = server.text.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/) else { return nil }
            return Int(match.1)
        }
        return (server, port)
    }

    static func request(
        _ port: Int, _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: String? = nil
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(60))) { client in
            var headers = headers
            if body != nil { headers[.contentType] = "application/json" }
            let response = try await client.execute(
                .init(path, method: method, authority: "127.0.0.1", headers: headers, body: body.map { ByteBuffer(string: $0) }))
            let json = response.body.flatMap { try? JSONSerialization.jsonObject(with: Data(buffer: $0)) as? [String: Any] } ?? [:]
            return (response.status, json)
        }
    }

    static func embedding(_ seed: Int) -> [Float] {
        var generator = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 1)
        return generator.vector(512)
    }

    static func json(_ vector: [Float]) -> String {
        "{\"embedding\": [" + vector.map { "\($0)" }.joined(separator: ",") + "]}"
    }

    @Test func everyAcknowledgedEnrollSurvivesAKill9() async throws {
        let (server, port) = try await Self.serve()
        let operatorHeaders: HTTPFields = [.authorization: "Bearer \(Self.operatorToken)"]
        let (created, tenant) = try await Self.request(
            port, .post, "/admin/v1/tenants", headers: operatorHeaders,
            body: #"{"name":"Durable","slug":"durable","quotas":{"requestsPerMinute":100000}}"#)
        try #require(created == .created)
        let key = try #require(tenant["apiKey"] as? String)
        let tenantID = try #require((tenant["tenant"] as? [String: Any])?["id"] as? String)
        _ = try await Self.request(port, .post, "/admin/v1/tenants/\(tenantID)/activate", headers: operatorHeaders)
        let keyHeaders: HTTPFields = [.init("X-API-Key")!: key]

        // Eight clients enroll one person each after another; the server dies under them.
        let acknowledged = LockedList()
        let serverPID = server.process.processIdentifier
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<1_000 {
                        let person = "w\(worker)-\(index)"
                        let seed = worker * 1_000 + index
                        guard let (status, _) = try? await Self.request(
                            port, .post, "/v1/persons/\(person)/faces", headers: keyHeaders, body: Self.json(Self.embedding(seed)))
                        else { return }
                        if status == .created { await acknowledged.append(person, seed) } else { return }
                    }
                }
            }
            group.addTask {
                // Kill once a good number are in, mid-stream.
                _ = try? await poll(timeout: .seconds(120), "40 acknowledged enrolls") { await acknowledged.count >= 40 ? true : nil }
                kill(serverPID, SIGKILL)
            }
        }
        _ = try await server.waitForExit()
        let survivors = await acknowledged.items
        #expect(survivors.count >= 40)

        let (restarted, newPort) = try await Self.serve()
        defer { restarted.signal(SIGTERM) }
        for (person, seed) in survivors {
            let (status, answer) = try await Self.request(
                newPort, .post, "/v1/search", headers: keyHeaders, body: Self.json(Self.embedding(seed)).dropLast() + ", \"limit\": 1}")
            let best = (answer["matches"] as? [[String: Any]])?.first
            #expect(status == .ok && best?["personId"] as? String == person, "\(person): \(answer)")
            #expect(abs((best?["score"] as? Double ?? 0) - 1) < 1e-5)
        }

        // Nothing half there: every count agrees with the rows.
        let database = try ScratchDatabase.required()
        let counts = try await database.withPool(.app) { app in
            try await app.withTenant(UUID(uuidString: tenantID)!) { tx in
                try await tx.query(
                    """
                    SELECT (SELECT face_count FROM tenants)::int, (SELECT count(*) FROM faces)::int,
                           (SELECT count(*) FROM persons)::int, (SELECT coalesce(sum(face_count), 0) FROM persons)::int,
                           (SELECT count(*) FROM persons p WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = p.id))::int
                    """
                ).collect().first!.decode((Int, Int, Int, Int, Int).self)
            }
        }
        #expect(counts.0 == counts.1 && counts.1 == counts.2 && counts.3 == counts.1 && counts.4 == 0, "\(counts)")
        #expect(counts.1 >= survivors.count)
    }
}

actor LockedList {
    var items: [(String, Int)] = []
    var count: Int { items.count }
    func append(_ person: String, _ seed: Int) { items.append((person, seed)) }
}
