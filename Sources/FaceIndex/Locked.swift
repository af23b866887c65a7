// A value behind a lock that ThreadSanitizer can see.

import Foundation

/// A value reached only under a glibc mutex, for the vector core's short critical sections.
///
/// Not Synchronization's `Mutex`: on Linux that one hands a contended lock over inside the kernel
/// (a priority-inheritance futex, from code built without ThreadSanitizer), so `make tsan` sees
/// no hand-over at all and reports every contended critical section as a data race. Measured:
/// writers on threads of their own (`ShardConcurrencyTests.writersOnThreadsOfTheirOwn…`) drew
/// 220–400 reports a run under `Mutex`, none under this. `pthread_mutex_lock` is intercepted by the
/// sanitizer, and uncontended it costs about what `Mutex` does (tens of nanoseconds, a few times
/// a search whose scan takes milliseconds).
///
/// `@unchecked Sendable`: `state` is read and written only between lock and unlock.
final class Locked<State: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value, under the lock.
    func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
