// Splitting a scan across cores: contiguous ranges of segments, a few per worker.

import Foundation
import Synchronization

enum ParallelScan {
    /// Floats a worker should scan at least for a thread to be worth waking (~4 MB).
    static let floatsPerWorker = 1 << 20

    /// Threads for a scan of `floats`: one a core (at most `cores`), each with enough to do.
    static func workers(forFloats floats: Int, cores: Int? = nil) -> Int {
        max(1, min(cores ?? .max, ProcessInfo.processInfo.activeProcessorCount, floats / floatsPerWorker))
    }

    /// Groups a worker's share is cut into. `concurrentPerform` hands groups out as its threads
    /// come free, so while one core is busy elsewhere (an event loop answering, another process)
    /// the other takes more of the scan instead of waiting for the busy one's half at the end.
    static let groupsPerWorker = 4

    /// Splits `blocks` into `groupsPerWorker × workers` contiguous groups of about equal rows (one
    /// when there is one worker).
    static func partition<Block>(_ blocks: [Block], rows: (Block) -> Int, workers: Int) -> [ArraySlice<Block>] {
        guard workers > 1, blocks.count > 1 else { return [blocks[...]] }
        let pieces = min(blocks.count, workers * groupsPerWorker)
        let total = blocks.reduce(0) { $0 + rows($1) }
        var groups: [ArraySlice<Block>] = []
        var start = 0
        var accumulated = 0
        for index in blocks.indices {
            accumulated += rows(blocks[index])
            let target = total * (groups.count + 1) / pieces
            if accumulated >= target, groups.count < pieces - 1 {
                groups.append(blocks[start...index])
                start = index + 1
            }
        }
        if start < blocks.count { groups.append(blocks[start...]) }
        return groups
    }

    /// Runs `work` for each index on `threads` threads (the caller's among them), each taking
    /// the next index when done, and collects the results in index order.
    static func map<Result>(_ count: Int, threads: Int, _ work: (Int) -> Result) -> [Result] {
        if count == 1 || threads <= 1 { return (0..<count).map(work) }
        let results = UnsafeMutablePointer<Result>.allocate(capacity: count)
        defer { results.deallocate() }
        let next = Atomic<Int>(0)
        // Each index initialises its own slot; the slots are read only after all threads return.
        withoutActuallyEscaping(work) { work in
            let box = UnsafeSendable((work, results))
            DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < count else { return }
                    (box.value.1 + index).initialize(to: box.value.0(index))
                }
            }
        }
        return (0..<count).map { (results + $0).move() }
    }
}

/// Carries values into `concurrentPerform`'s closure. Safe here because each worker touches
/// only its own result slot and `work` is only read; the call returns after every worker.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
