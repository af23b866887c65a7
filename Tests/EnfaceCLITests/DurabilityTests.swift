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
    static let environment = ["ENFACE_MASTER_KEY": SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()]

    @Test func everyAcknowledgedEnrollSurvivesAKill9() async throws {
        let node = try await Node.start(Self.environment)
        let (tenantID, keyHeaders) = try await node.createTenant("durable")

        // Eight clients enroll one person each after another; the server dies under them.
        let acknowledged = LockedList()
        let serverPID = node.process.process.pid
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<1_000 {
                        let person = "w\(worker)-\(index)"
                        let seed = worker * 1_000 + index
                        guard let enrolled = try? await node.client.call(
                            .post, "/v1/persons/\(person)/faces", headers: keyHeaders, body: Node.json(Node.embedding(seed)))
                        else { return }
                        if enrolled.status == .created { await acknowledged.append(person, seed) } else { return }
                    }
                }
            }
            group.addTask {
                // Kill once a good number are in, mid-stream.
                _ = try? await poll(timeout: .seconds(120), "40 acknowledged enrolls") { await acknowledged.count >= 40 ? true : nil }
                kill(serverPID, SIGKILL)
            }
        }
        _ = try await node.process.waitForExit()
        let survivors = await acknowledged.items
        #expect(survivors.count >= 40)

        let restarted = try await Node.start(Self.environment)
        defer { restarted.process.signal(SIGTERM) }
        for (person, seed) in survivors {
            let best = try await restarted.persons(matching: Node.embedding(seed), headers: keyHeaders).first
            #expect(best?.person == person, "\(person): \(String(describing: best))")
            #expect(abs((best?.score ?? 0) - 1) < 1e-5)
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
