// Who gets the next face engine, by table: one client's flood never stands in front of
// another's photo, nor holds every engine while another client is around.

@testable import FaceImages
import Testing

struct EngineSchedulerTests {
    typealias Scheduler = EngineScheduler<String, String>

    @Test func aSecondClientsPhotoGoesBeforeTheFirstClientsBacklog() {
        var scheduler = Scheduler(engines: 2, queueLimit: 32, perClientQueue: 8)
        let now = ContinuousClock.now
        // B has sent a photo a moment ago.
        let earlier = scheduler.arrive("B", waiter: "b0", now: now).engine!
        _ = scheduler.release(earlier, from: "B", now: now)
        // A floods: one engine runs its photo, the other is kept for B; the rest waits.
        #expect(scheduler.arrive("A", waiter: "a1", now: now).engine != nil)
        for photo in 2...6 { #expect(scheduler.arrive("A", waiter: "a\(photo)", now: now) == (nil, true)) }
        // B's photo runs at once on the engine kept free.
        let b = scheduler.arrive("B", waiter: "b1", now: now)
        #expect(b.engine != nil && b.accepted)
        // B sends another while its first runs: it waits, but in front of A's backlog.
        #expect(scheduler.arrive("B", waiter: "b2", now: now) == (nil, true))
        let afterB = scheduler.release(b.engine!, from: "B", now: now)
        #expect(afterB?.waiter == "b2")
    }

    @Test func aClientAloneUsesEveryEngine() {
        var scheduler = Scheduler(engines: 2, queueLimit: 32, perClientQueue: 8)
        let now = ContinuousClock.now
        #expect(scheduler.arrive("A", waiter: "a1", now: now).engine != nil)
        #expect(scheduler.arrive("A", waiter: "a2", now: now).engine != nil)
        #expect(scheduler.free.isEmpty)
    }

    @Test func waitingClientsAreServedInTurn() {
        var scheduler = Scheduler(engines: 1, queueLimit: 32, perClientQueue: 8)
        let now = ContinuousClock.now
        let first = scheduler.arrive("A", waiter: "a1", now: now).engine!
        for waiter in ["a2", "a3", "a4"] { _ = scheduler.arrive("A", waiter: waiter, now: now) }
        for waiter in ["b1", "b2"] { _ = scheduler.arrive("B", waiter: waiter, now: now) }
        _ = scheduler.arrive("C", waiter: "c1", now: now)
        var order: [String] = []
        var engine = first
        var client = "A"
        while let next = scheduler.release(engine, from: client, now: now) {
            order.append(next.waiter)
            engine = next.engine
            client = String(next.waiter.prefix(1)).uppercased()
        }
        #expect(order == ["a2", "b1", "c1", "a3", "b2", "a4"])
    }

    @Test func aFloodIsRefusedPastItsOwnShareOfTheLine() {
        var scheduler = Scheduler(engines: 2, queueLimit: 10, perClientQueue: 3)
        let now = ContinuousClock.now
        _ = scheduler.arrive("A", waiter: "a0", now: now)
        _ = scheduler.arrive("A", waiter: "a1", now: now)
        let waited = (2..<8).map { scheduler.arrive("A", waiter: "a\($0)", now: now).accepted }
        #expect(waited == [true, true, true, false, false, false])
        // B still has room in the line.
        #expect(scheduler.arrive("B", waiter: "b0", now: now).accepted)
    }

    @Test func theKeptEngineIsReleasedOnceTheOtherClientHasGoneQuiet() {
        var scheduler = Scheduler(engines: 2, queueLimit: 32, perClientQueue: 8, recentWindow: .seconds(2))
        let start = ContinuousClock.now
        let b = scheduler.arrive("B", waiter: "b1", now: start).engine!
        _ = scheduler.release(b, from: "B", now: start)
        let a1 = scheduler.arrive("A", waiter: "a1", now: start).engine!
        #expect(scheduler.arrive("A", waiter: "a2", now: start) == (nil, true))  // one engine kept for B
        // Three seconds later B is gone: A's next photo takes both engines.
        let next = scheduler.release(a1, from: "A", now: start + .seconds(3))
        #expect(next?.waiter == "a2")
        #expect(scheduler.arrive("A", waiter: "a3", now: start + .seconds(3)).engine != nil)
    }
}
