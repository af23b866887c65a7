// The vector core under package-benchmark: search (fp32, int8, a batch of 32), add and remove,
// at N = 1k … 1M rows and D = 128 and 512. Each size also times one plain read of a buffer as
// large as its shard: the memory-bandwidth floor the scans are measured against, in this run.

import Benchmark
import FaceIndex
import Foundation

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident],
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 1_000)

    // Pick sizes with a full-name filter: swift package benchmark --filter ".*N=100000 D=512"
    for dimension in [128, 512] {
        for count in [1_000, 10_000, 100_000, 1_000_000] {
            let label = "N=\(count) D=\(dimension)"
            let fixture = Fixture(count: count, dimension: dimension)

            Benchmark("reference read \(label)") { benchmark in
                for _ in benchmark.scaledIterations { blackHole(fixture.readOnce()) }
            }
            Benchmark("search fp32 \(label)") { benchmark in
                for iteration in benchmark.scaledIterations {
                    blackHole(try fixture.shard.search(fixture.query(iteration), k: 10, mode: .fp32))
                }
            }
            Benchmark("search int8 \(label)") { benchmark in
                for iteration in benchmark.scaledIterations {
                    blackHole(try fixture.shard.search(fixture.query(iteration), k: 10, mode: .int8))
                }
            }
            Benchmark("search batch 32 \(label)", configuration: .init(scalingFactor: .one)) { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(try fixture.shard.search(batch: fixture.batch, k: 10))
                }
            }
            Benchmark("add+remove \(label)") { benchmark in
                // One add and one remove of the same face: the shard returns to its size.
                for iteration in benchmark.scaledIterations {
                    let id = UUID()
                    try fixture.shard.add(face: id, person: "bench", embedding: fixture.query(iteration))
                    blackHole(fixture.shard.remove(face: id))
                }
            }
        }
    }
}

/// A shard of `count` random rows (built on first use, so filtering benchmarks builds only
/// what runs), queries, and a buffer of the shard's size for the reference read.
final class Fixture: @unchecked Sendable {
    // @unchecked: the lazily built state is created once under `lock` and then only read.
    let count: Int
    let dimension: Int
    private let lock = NSLock()
    private var built: (shard: Shard, queries: [[Float]], buffer: [Float])?

    init(count: Int, dimension: Int) {
        self.count = count
        self.dimension = dimension
    }

    private var state: (shard: Shard, queries: [[Float]], buffer: [Float]) {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        var generator = SystemRandomNumberGenerator()
        func vector() -> [Float] { (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) } }
        let shard = try! Shard(dimension: dimension, options: .init(quantized: true))
        let chunk = 50_000
        for start in stride(from: 0, to: count, by: chunk) {
            let faces = (start..<min(count, start + chunk)).map {
                Shard.Face(id: UUID(), person: "person-\($0 / 3)", embedding: vector())
            }
            try! shard.add(contentsOf: faces)
        }
        let state = (shard, (0..<64).map { _ in vector() }, [Float](repeating: 1, count: count * dimension))
        built = state
        return state
    }

    var shard: Shard { state.shard }
    var batch: [[Float]] { Array(state.queries.prefix(32)) }
    func query(_ iteration: Int) -> [Float] { state.queries[iteration % state.queries.count] }

    func readOnce() -> Float {
        state.buffer.withUnsafeBufferPointer { buffer in
            var sum: SIMD16<Float> = .zero
            let wide = UnsafeRawBufferPointer(buffer).bindMemory(to: SIMD16<Float>.self)
            for value in wide { sum += value }
            return sum.sum()
        }
    }
}
