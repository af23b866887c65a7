// A shard's feed: own writes in order, others' through the log, notices coalesced and rate-limited.

import FaceIndex
@testable import FaceService
import Foundation
import Logging
import Storage
import Synchronization
import Testing

/// A tenant's log in memory (pure logic: what the feed does with what it reads).
final class MemoryLog: Sendable {
    let state = Mutex<(changes: [FaceRepository.LoggedChange], templates: [UUID: [Float]], reads: Int)>(([], [:], 0))

    func append(_ operation: FaceRepository.LoggedChange.Operation, face: UUID?, person: String, template: [Float]? = nil)
        -> FaceRepository.LoggedChange
    {
        state.withLock { state in
            let change = FaceRepository.LoggedChange(
                seq: Int64(state.changes.count + 1), operation: operation, face: face, person: person)
            state.changes.append(change)
            if let face, let template { state.templates[face] = template }
            return change
        }
    }

    var reads: Int { state.withLock { $0.reads } }

    var source: ChangeSource {
        ChangeSource(
            changes: { after, limit in
                self.state.withLock { state in
                    state.reads += 1
                    return (Int64(state.changes.count), Array(state.changes.filter { $0.seq > after }.prefix(limit)))
                }
            },
            templates: { faces in self.state.withLock { state in state.templates.filter { faces.contains($0.key) } } })
    }
}

struct ShardFeedTests {
    static func vector(_ seed: Int) -> [Float] { (0..<64).map { Float(sin(Double($0 * (seed + 1)))) + 0.01 } }

    static func feed(_ log: MemoryLog) throws -> ShardFeed {
        ShardFeed(
            tenant: UUID(), shard: try Shard(dimension: 64), keyVersion: 1, applied: 0, source: log.source,
            logger: Logger(label: "test")) { _, _ in }
    }

    @Test func anOwnWriteThatIsNextAppliesWithoutReading() async throws {
        let log = MemoryLog()
        let feed = try Self.feed(log)
        let face = UUID()
        let change = log.append(.add, face: face, person: "alice", template: Self.vector(1))
        await feed.own(change, template: Self.vector(1))
        #expect(feed.shard.contains(face: face))
        #expect(log.reads == 0)
    }

    @Test func anOwnWriteBehindAnotherNodesChangesReadsTheLogInOrder() async throws {
        let log = MemoryLog()
        let feed = try Self.feed(log)
        let (first, second) = (UUID(), UUID())
        // Another node added a face, then deleted it; then this node added one.
        _ = log.append(.add, face: first, person: "bob", template: Self.vector(2))
        _ = log.append(.remove, face: first, person: "bob")
        let mine = log.append(.add, face: second, person: "carol", template: Self.vector(3))
        await feed.own(mine, template: Self.vector(3))
        #expect(!feed.shard.contains(face: first) && feed.shard.contains(face: second))
        #expect(await feed.applied == 3)
    }

    @Test func anOwnWriteDoesNotWaitForACatchUpWaitingOutItsInterval() async throws {
        let log = MemoryLog()
        let feed = ShardFeed(
            tenant: UUID(), shard: try Shard(dimension: 64), keyVersion: 1, applied: 0, source: log.source,
            logger: Logger(label: "test"), interval: .seconds(30)) { _, _ in }
        await feed.catchUp()  // the first read: the next one waits 30 s
        await feed.wake()
        let face = UUID()
        let change = log.append(.add, face: face, person: "alice", template: Self.vector(1))
        await feed.own(change, template: Self.vector(1))
        // Applied without the read the sleeping catch-up will make.
        #expect(feed.shard.contains(face: face) && log.reads == 1)
        #expect(await feed.applied == 1)
    }

    @Test func aThousandNoticesCostAFewReads() async throws {
        let log = MemoryLog()
        let feed = try Self.feed(log)
        let started = ContinuousClock.now
        for _ in 0..<1_000 { await feed.wake() }
        await feed.catchUp()
        let elapsed = ContinuousClock.now - started
        // At most one read per minimum interval, plus the first and a last one.
        let allowed = Int(elapsed / ShardFeed.minimumInterval) + 2
        #expect(log.reads <= allowed, "\(log.reads) reads in \(elapsed)")
    }

    @Test func aRemovedPersonsLateAddDoesNotComeBack() async throws {
        let log = MemoryLog()
        let feed = try Self.feed(log)
        let face = UUID()
        _ = log.append(.add, face: face, person: "dave", template: Self.vector(4))
        _ = log.append(.removePerson, face: nil, person: "dave")
        // The add is read after the removal committed: its face is gone from the table too.
        log.state.withLock { $0.templates[face] = nil }
        await feed.catchUp()
        #expect(!feed.shard.contains(face: face) && feed.shard.count == 0)
    }
}
