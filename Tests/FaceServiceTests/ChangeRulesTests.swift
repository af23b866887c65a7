// How a shard catches up from its tenant's change log, by table: gaps, repeats, late and
// replayed changes, a counter that went back.

@testable import FaceService
import Foundation
import Storage
import Testing

struct ChangeRulesTests {
    typealias Change = FaceRepository.LoggedChange

    static func changes(_ numbers: [Int64]) -> [Change] {
        numbers.map { Change(seq: $0, operation: .add, face: UUID(), person: "p\($0)") }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var applied: Int64
        var current: Int64
        var logged: [Int64]
        var expected: String  // "upToDate", "apply:<first>-<last>", "reload"
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "nothing new", applied: 7, current: 7, logged: [], expected: "upToDate"),
        Case(name: "the next ones, in order", applied: 7, current: 10, logged: [8, 9, 10], expected: "apply:8-10"),
        Case(name: "one behind", applied: 0, current: 1, logged: [1], expected: "apply:1-1"),
        Case(name: "a gap trimmed from the log", applied: 7, current: 12, logged: [10, 11, 12], expected: "reload"),
        Case(name: "a hole in the middle", applied: 7, current: 10, logged: [8, 10], expected: "reload"),
        Case(name: "a repeated change", applied: 7, current: 9, logged: [8, 8, 9], expected: "reload"),
        Case(name: "the log ends before the counter", applied: 7, current: 10, logged: [8, 9], expected: "reload"),
        Case(name: "entries past the counter", applied: 7, current: 7, logged: [8], expected: "reload"),
        Case(name: "the counter went back (a tenant rebuilt)", applied: 7, current: 3, logged: [], expected: "reload"),
        Case(name: "more behind than one read holds", applied: 0, current: 5, logged: [1, 2, 3, 4, 5], expected: "reload"),
    ]

    @Test(arguments: cases)
    func plan(_ given: Case) {
        let plan = ChangeRules.plan(applied: given.applied, current: given.current, changes: Self.changes(given.logged), limit: 5)
        switch plan {
        case .upToDate: #expect(given.expected == "upToDate")
        case .apply(let changes):
            #expect(given.expected == "apply:\(changes.first?.seq ?? -1)-\(changes.last?.seq ?? -1)")
        case .reload: #expect(given.expected == "reload")
        }
    }

    @Test func aReplayedNoticeFindsNothingNewAndChangesNothing() {
        // The log is read after what the shard holds: a notice replayed any number of times
        // reads the same empty tail.
        for _ in 0..<3 {
            #expect(ChangeRules.plan(applied: 42, current: 42, changes: [], limit: 1_000) == .upToDate)
        }
    }
}
