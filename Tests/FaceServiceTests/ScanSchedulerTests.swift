// The scan scheduler alone: a slot a core, tenants in turn when scans wait, and a bounded
// queue per tenant. Slots are taken and handed back by hand, so every step is deterministic.

@testable import FaceService
import Foundation
import Synchronization
import Testing
import TestSupport

struct ScanSchedulerTests {
    /// Scans that started, in order, by tenant name.
    final class Started: Sendable {
        let order = Mutex<[String]>([])
        func append(_ name: String) { order.withLock { $0.append(name) } }
        var names: [String] { order.withLock { $0 } }
    }

    static let (a, b, c) = (UUID(), UUID(), UUID())

    /// Queues a scan of `tenant` that records its start and holds its slot until released by hand.
    static func queue(_ scheduler: ScanScheduler, _ tenant: UUID, _ name: String, _ started: Started) -> Task<Void, any Error> {
        Task {
            try await scheduler.acquire(tenant)
            started.append(name)
        }
    }

    @Test func aTenantAloneTakesEverySlot() async throws {
        let scheduler = ScanScheduler(slots: 3, queuePerTenant: 4)
        let started = Started()
        for scan in (1...3).map({ Self.queue(scheduler, Self.a, "a\($0)", started) }) { try await scan.value }
        #expect(started.names.count == 3 && scheduler.waiting == 0)
    }

    @Test func whileOthersSearchATenantTakesAllSlotsButOne() async throws {
        let scheduler = ScanScheduler(slots: 3, queuePerTenant: 4, sharingWindow: .seconds(600))
        let started = Started()
        // c searched a moment ago: a shares the node.
        try await scheduler.acquire(Self.c)
        scheduler.release(Self.c)
        let scans = (1...3).map { Self.queue(scheduler, Self.a, "a\($0)", started) }
        _ = try await poll("two of a's scans to start and one to wait") {
            started.names.count == 2 && scheduler.waiting == 1 ? true : nil
        }
        // The slot a may not take is b's at once.
        try await Self.queue(scheduler, Self.b, "b1", started).value
        #expect(started.names.count == 3 && scheduler.waiting == 1)
        scheduler.release(Self.b)
        scheduler.release(Self.a)  // a's third scan takes the slot a freed
        for scan in scans { try await scan.value }
        #expect(started.names.count == 4 && scheduler.waiting == 0)
    }

    @Test func withOneSlotATenantAloneStillRuns() async throws {
        let scheduler = ScanScheduler(slots: 1, queuePerTenant: 4)
        #expect(scheduler.slotsPerTenant == 1)
        #expect(try await scheduler.run(tenant: Self.a) { _ in 7 } == 7)
    }

    @Test func aScanSpreadsOverEveryCoreAloneAndLeavesOneToOthersWhenShared() async throws {
        let scheduler = ScanScheduler(slots: 3, queuePerTenant: 4, sharingWindow: .seconds(600))
        #expect(try await scheduler.run(tenant: Self.a) { $0 } == 3)
        // a searched a moment ago: b shares the node, and its scans keep off one core.
        #expect(try await scheduler.run(tenant: Self.b) { $0 } == 2)
        #expect(try await scheduler.run(tenant: Self.a) { $0 } == 2)
    }

    @Test func waitingTenantsTakeTurnsSoAFloodDoesNotHoldUpANeighbour() async throws {
        let scheduler = ScanScheduler(slots: 1, queuePerTenant: 16)
        let started = Started()
        try await scheduler.acquire(Self.a)  // a's first scan runs
        var tasks = (2...6).map { index in Self.queue(scheduler, Self.a, "a\(index)", started) }
        _ = try await poll("a's scans to wait") { scheduler.waiting == 5 ? true : nil }
        tasks.append(Self.queue(scheduler, Self.b, "b1", started))
        _ = try await poll("b's scan to wait") { scheduler.waiting == 6 ? true : nil }
        tasks.append(Self.queue(scheduler, Self.c, "c1", started))
        _ = try await poll("c's scan to wait") { scheduler.waiting == 7 ? true : nil }
        // Each release hands the one slot on; every scan ends before the next starts.
        for (expected, holder) in zip(1...7, [Self.a, Self.a, Self.b, Self.c, Self.a, Self.a, Self.a]) {
            scheduler.release(holder)
            _ = try await poll("scan \(expected) to start") { started.names.count == expected ? true : nil }
        }
        for task in tasks { try await task.value }
        // b and c wait for one scan of a each, not for a's five.
        #expect(started.names == ["a2", "b1", "c1", "a3", "a4", "a5", "a6"])
        scheduler.release(Self.a)
        #expect(scheduler.waiting == 0)
    }

    @Test func aTenantPastItsQueueIsRefusedAndOthersStillWait() async throws {
        let scheduler = ScanScheduler(slots: 1, queuePerTenant: 2)
        let started = Started()
        try await scheduler.acquire(Self.a)
        let waiting = [Self.queue(scheduler, Self.a, "a2", started), Self.queue(scheduler, Self.a, "a3", started)]
        _ = try await poll("a's scans to wait") { scheduler.waiting == 2 ? true : nil }
        await #expect(throws: ScanScheduler.Busy(waiting: 2)) { try await scheduler.acquire(Self.a) }
        let neighbour = Self.queue(scheduler, Self.b, "b1", started)
        _ = try await poll("b's scan to wait") { scheduler.waiting == 3 ? true : nil }
        for (expected, holder) in zip(1...3, [Self.a, Self.a, Self.b]) {
            scheduler.release(holder)
            _ = try await poll("scan \(expected) to start") { started.names.count == expected ? true : nil }
        }
        for task in waiting + [neighbour] { try await task.value }
        #expect(started.names == ["a2", "b1", "a3"])
    }

    @Test func runReportsTheWaitAndFreesItsSlotWhenTheScanThrows() async throws {
        struct Failed: Error {}
        let scheduler = ScanScheduler(slots: 1, queuePerTenant: 1)
        let waits = Mutex<[Duration]>([])
        await #expect(throws: Failed.self) {
            try await scheduler.run(tenant: Self.a, waited: { wait in waits.withLock { $0.append(wait) } }) { _ in throw Failed() }
        }
        // The slot is free again: a scan runs at once.
        #expect(try await scheduler.run(tenant: Self.b) { _ in 42 } == 42)
        #expect(waits.withLock { $0.count } == 1)
    }
}
