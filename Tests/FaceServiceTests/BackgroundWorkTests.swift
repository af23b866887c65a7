// Background work belongs to the service group: awaited at graceful shutdown, refused after it,
// and run at once when no group runs it (a registry used alone).

@testable import FaceService
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

@Suite struct BackgroundWorkTests {
    @Test func withoutAServiceGroupWorkRunsAtOnce() async throws {
        let work = BackgroundWork(logger: TestEnvironment.logger)
        let ran = Atomic<Bool>(false)
        work.submit("alone") { ran.store(true, ordering: .relaxed) }
        try await poll("the work to run") { ran.load(ordering: .relaxed) ? true : nil }
    }

    @Test func shutdownAwaitsWhatRunsAndStartsNothingAfter() async throws {
        let work = BackgroundWork(logger: TestEnvironment.logger)
        let group = ServiceGroup(services: [work], logger: TestEnvironment.logger)
        let (started, startedSignal) = AsyncStream<Void>.makeStream()
        let (release, releaseSignal) = AsyncStream<Void>.makeStream()
        let finished = Atomic<Bool>(false)
        let late = Atomic<Bool>(false)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // A generous deadline: the suite runs beside CPU-heavy ones on a 2-core machine.
            try await poll(timeout: .seconds(60), "the service group to run the work") { work.isRunning ? true : nil }
            work.submit("held") {
                startedSignal.yield()
                for await _ in release {}
                finished.store(true, ordering: .relaxed)
            }
            // A failing job is logged, and takes nothing else down with it.
            work.submit("failing") { throw CancellationErrorLike() }
            for await _ in started { break }
            await group.triggerGracefulShutdown()
            // Released only now: the shutdown below can end only once the job has.
            releaseSignal.finish()
            try await tasks.next()
        }
        let finishedAtShutdown = finished.load(ordering: .relaxed)
        #expect(finishedAtShutdown, "shutdown returned before the work it had started")
        work.submit("late") { late.store(true, ordering: .relaxed) }
        let lateStarted = late.load(ordering: .relaxed)
        #expect(work.hasStopped && !lateStarted)
    }

    @Test func workThatDoesNotEndIsCancelledOnceTheDrainLimitIsOver() async throws {
        let work = BackgroundWork(drainLimit: .milliseconds(200), logger: TestEnvironment.logger)
        let group = ServiceGroup(services: [work], logger: TestEnvironment.logger)
        let cancelled = Atomic<Bool>(false)
        let (started, startedSignal) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // A generous deadline: the suite runs beside CPU-heavy ones on a 2-core machine.
            try await poll(timeout: .seconds(60), "the service group to run the work") { work.isRunning ? true : nil }
            work.submit("stuck") {
                startedSignal.yield()
                do {
                    try await Task.sleep(for: .seconds(3_600))
                } catch {
                    cancelled.store(true, ordering: .relaxed)
                    throw error
                }
            }
            for await _ in started { break }
            await group.triggerGracefulShutdown()
            // The shutdown ends (the suite's own time limit would catch it hanging) …
            try await tasks.next()
        }
        // … because the stuck job was cancelled.
        let wasCancelled = cancelled.load(ordering: .relaxed)
        #expect(wasCancelled)
    }

    struct CancellationErrorLike: Error {}
}
