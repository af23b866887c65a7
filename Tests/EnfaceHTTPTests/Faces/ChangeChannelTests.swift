// The change channel, seen by a database login that is not Enface's: it names no one, and what
// such a login sends on it changes nothing.

import Foundation
import HTTPTypes
import PostgresNIO
import Storage
import Tenancy
import Testing
import TestSupport
import WireFormats

// One test at a time: both listen on the one channel of the suite's database.
@Suite(.scratchDatabase, .serialized)
struct ChangeChannelTests {
    /// Notices heard on `channel` by the operator's database role while `work` runs, until
    /// `count` have arrived (or 10 s have passed).
    static func overhear(
        _ count: Int, on channel: String = ChangeChannel.name, during work: @Sendable @escaping () async throws -> Void
    ) async throws -> [String] {
        try await ScratchDatabase.required().withConnection(.admin) { connection in
            try await connection.listen(on: channel) { notifications in
                try await withThrowingTaskGroup(of: [String]?.self) { group in
                    group.addTask {
                        var heard: [String] = []
                        for try await notification in notifications {
                            heard.append(notification.payload)
                            if heard.count >= count { break }
                        }
                        return heard
                    }
                    group.addTask {
                        try await work()
                        try await Task.sleep(for: .seconds(10))
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await group.next().flatMap { $0 } ?? []
                }
            }
        }
    }

    @Test func aListeningLoginLearnsNoTenantPersonOrFaceID() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 31)
            let (first, second) = (vectors.identity(), vectors.identity())
            let faceID = LockedBox<String?>(nil)
            let heard = try await Self.overhear(3) {
                let enrolled = try await enface.call(
                    .post, "/v1/persons/alice.secret@example.com/faces", key: tenant.key,
                    json: ["embedding": Embeddings.json(first)])
                await faceID.set(enrolled["faceId"]?.stringValue)
                _ = try await enface.call(.delete, "/v1/faces/\(enrolled["faceId"]?.stringValue ?? "")", key: tenant.key)
                _ = try await enface.call(
                    .post, "/v1/persons/alice.secret@example.com/faces", key: tenant.key,
                    json: ["embedding": Embeddings.json(second)])
            }
            #expect(heard.count == 3, "\(heard)")
            let face = try #require(await faceID.value)
            for payload in heard {
                #expect(payload.wholeMatch(of: /[ft]\.[0-9a-f]{32}/) != nil, "\(payload)")
                for secret in [tenant.id, tenant.slug, "alice", face] { #expect(!payload.contains(secret), "\(payload)") }
            }
        }
    }

    @Test func forgedAndReplayedNoticesChangeNothing() async throws {
        // Two nodes on one database: a real change made on the second reaches the first through the
        // channel after whatever was sent before it, so once the first has it, it has read the forgeries.
        try await LiveService.run { enface in
            try await LiveService.run { other in
                let tenant = try await enface.createTenant()
                var vectors = Embeddings(seed: 32)
                let alice = vectors.identity()
                let heard = try await Self.overhear(1) {
                    _ = try await enface.call(.post, "/v1/persons/alice/faces", key: tenant.key, json: ["embedding": Embeddings.json(alice)])
                }
                let first = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(alice)])
                #expect(first["matches"]?.arrayValue?.count == 1)

                /// Sends `payloads` on the channel as the operator's login, then makes a real change on
                /// the other node and waits until `enface` has heard of it.
                func forge(_ payloads: [String], thenEnroll person: String) async throws {
                    try await ScratchDatabase.required().withConnection(.admin) { connection in
                        for payload in payloads {
                            for channel in [ChangeChannel.name, "enface_faces"] {
                                try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: TestEnvironment.logger)
                            }
                        }
                    }
                    let face = vectors.identity()
                    let enrolled = try await other.call(.post, "/v1/persons/\(person)/faces", key: tenant.key, json: ["embedding": Embeddings.json(face)])
                    try #require(enrolled.status == .created, "\(enrolled.body)")
                    try await poll("the first node to hear of \(person)") { () -> Bool? in
                        let found = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(face)])
                        return found["matches"]?.arrayValue?.first?.objectValue?["personId"]?.stringValue == person ? true : nil
                    }
                }
                func expectOnlyAlice() async throws {
                    let found = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(alice)])
                    #expect(found["matches"]?.arrayValue?.map { $0.objectValue?["personId"] } == ["alice"], "\(found.body)")
                }
                // The payload nodes used to apply: a removal of alice, alone.
                try await forge([#"{"op":"removePerson","p":"alice","s":2,"t":"\#(tenant.id)"}"#], thenEnroll: "bob")
                try await expectOnlyAlice()
                // A sequence jump, garbage, and the real notice replayed 500 times.
                try await forge(
                    [#"{"op":"add","p":"mallory","s":999999,"t":"\#(tenant.id)"}"#, "f.\(String(repeating: "0", count: 32))", "t.zz", ""]
                        + Array(repeating: heard.first ?? "", count: 500),
                    thenEnroll: "carol")
                for _ in 0..<20 { try await expectOnlyAlice() }
            }
        }
    }
}
