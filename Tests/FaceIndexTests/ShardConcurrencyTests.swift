// Readers and writers hammering one shard. Every face's vector is a function of its number,
// so each result can be re-derived: a torn row, a stale person or a half-published segment
// shows as a score or a name that does not match. `make tsan` runs this under ThreadSanitizer.

import Foundation
import Testing

@testable import FaceIndex

@Suite struct ShardConcurrencyTests {
    static let dimension = 96

    /// Face number n: its id, person and vector, all derived from n.
    static func face(_ number: Int) -> Shard.Face {
        let id = UUID(uuid: (
            UInt8(number >> 24 & 0xff), UInt8(number >> 16 & 0xff), UInt8(number >> 8 & 0xff), UInt8(number & 0xff),
            0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1))
        let vector = (0..<dimension).map { Float(sin(Double(number) * 0.731 + Double($0) * 0.377)) }
        return Shard.Face(id: id, person: "person-\(number / 3)", embedding: vector)
    }

    static func number(of id: UUID) -> Int {
        let bytes = id.uuid
        return Int(bytes.0) << 24 | Int(bytes.1) << 16 | Int(bytes.2) << 8 | Int(bytes.3)
    }

    @Test func searchesNeverSeeTornRowsWhileWritersAddAndRemove() async throws {
        let shard = try Shard(dimension: Self.dimension, options: .init(quantized: true, segmentRows: 32))
        try shard.add(contentsOf: (0..<600).map(Self.face))
        let problems = Problems()
        let queries = (0..<8).map { Self.face(10_000 + $0).embedding }

        try await withThrowingTaskGroup(of: Void.self) { group in
            // Two writers: one appends new faces, one removes old ones (each removal moves the
            // last row into the hole, in a copied segment).
            group.addTask {
                for number in 600..<1400 {
                    try shard.add(face: Self.face(number).id, person: Self.face(number).person, embedding: Self.face(number).embedding)
                }
            }
            // Faces from 600 on may not be added yet: the remover takes each once it is there.
            group.addTask {
                for number in stride(from: 0, to: 800, by: 2) {
                    while !shard.remove(face: Self.face(number).id) { await Task.yield() }
                }
            }
            // Four readers, every search mode.
            for reader in 0..<4 {
                group.addTask {
                    for iteration in 0..<150 {
                        let query = queries[(reader + iteration) % queries.count]
                        let mode = [SearchMode.fp32, .int8, .auto][iteration % 3]
                        let found = iteration % 5 == 4
                            ? try shard.search(batch: [query], k: 12)[0]
                            : try shard.search(query, k: 12, mode: mode)
                        let issues = Self.check(found, query: query)
                        problems.record(issues)
                    }
                }
            }
            try await group.waitForAll()
        }
        let found = problems.all
        #expect(found.isEmpty, "\(found.count) problems, e.g. \(found.prefix(5))")
        #expect(shard.count == 600 + 800 - 400)
    }

    /// Writers on threads of their own (not the cooperative pool's two), so they meet on the
    /// shard's locks: each adds its own faces and removes every other one while the others do
    /// the same, and searches run between them. Under `make tsan` this is also the test of the
    /// locks themselves: a lock ThreadSanitizer cannot see hand over (Synchronization's Mutex
    /// on Linux hands a contended lock over inside the kernel) makes every handover a "race".
    @Test func writersOnThreadsOfTheirOwnKeepEveryFaceTheyAdd() throws {
        let shard = try Shard(dimension: Self.dimension, options: .init(quantized: true, segmentRows: 16))
        try shard.add(contentsOf: (0..<100).map(Self.face))
        let (writers, perWriter) = (4, 240)
        let problems = Problems()
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            let numbers = (0..<perWriter).map { 20_000 + writer * perWriter + $0 }
            do {
                for (index, number) in numbers.enumerated() {
                    let face = Self.face(number)
                    try shard.add(face: face.id, person: face.person, embedding: face.embedding)
                    if index % 2 == 1, !shard.remove(face: Self.face(numbers[index - 1]).id) {
                        problems.record(["face \(numbers[index - 1]) was not there to remove"])
                    }
                    if index % 16 == 0 {
                        problems.record(Self.check(try shard.search(face.embedding, k: 12), query: face.embedding))
                    }
                }
            } catch {
                problems.record(["writer \(writer): \(error)"])
            }
        }
        #expect(problems.all.isEmpty, "\(problems.all.prefix(5))")
        #expect(shard.count == 100 + writers * perWriter / 2)
        // Exactly the odd faces of each writer are left, each found as its own best match.
        for writer in 0..<writers {
            for index in stride(from: 1, to: perWriter, by: 38) {
                let face = Self.face(20_000 + writer * perWriter + index)
                #expect(try shard.search(face.embedding, k: 1).first?.faceID == face.id)
                #expect(!shard.contains(face: Self.face(20_000 + writer * perWriter + index - 1).id))
            }
        }
    }

    final class Problems: Sendable {
        private let issues = Locked<[String]>([])
        func record(_ new: [String]) { if !new.isEmpty { issues.withLock { $0 += new } } }
        var all: [String] { issues.withLock { $0 } }
    }

    /// What is wrong with one result list, if anything.
    static func check(_ found: [Match], query: [Float]) -> [String] {
        var issues: [String] = []
        if found.count != 12 { issues.append("got \(found.count) results") }
        if Set(found.map(\.faceID)).count != found.count { issues.append("a face appears twice") }
        for (better, worse) in zip(found, found.dropFirst()) where better.score < worse.score {
            issues.append("not sorted: \(better.score) before \(worse.score)")
        }
        for match in found {
            let number = number(of: match.faceID)
            let face = face(number)
            if match.personID != face.person { issues.append("face \(number) named \(match.personID)") }
            let expected = Reference.cosine(face.embedding, query)
            if abs(Double(match.score) - expected) > 1e-5 {
                issues.append("face \(number) scored \(match.score), its vector scores \(expected)")
            }
        }
        return issues
    }
}
