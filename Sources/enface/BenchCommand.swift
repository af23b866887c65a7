// `enface bench index`: how fast and how exact the vector core is, measured from outside on
// files anyone can produce (raw little-endian float32, one vector after another).

import ArgumentParser
import FaceIndex
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Enface's parts.",
        subcommands: [IndexBench.self, ImageBench.self, CalibrationBench.self])
}

struct IndexBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Load a gallery into one shard and time k-nearest searches for every query.",
        discussion: """
            Files are raw little-endian float32, N×D, not necessarily normalised. Every query runs \
            once untimed, then once timed. Prints n, dim, k, mode, queries, p50_ms, p99_ms, qps, \
            load_ms, memory_bytes and, per query, the k gallery rows (0-based, best first) with \
            their cosine scores.
            """)

    @Option(help: "Gallery file: N×dim float32.")
    var gallery: String

    @Option(help: "Query file: Q×dim float32.")
    var queries: String

    @Option(help: "Vector dimension.")
    var dim: Int

    @Option(help: "Results per query.")
    var k: Int = 10

    @Option(help: "fp32, int8 or auto (int8 when the shard is large enough for it to pay).")
    var mode: SearchMode = .auto

    @Option(help: "Queries per batch; above 1 each batch is one matrix product per segment (BLAS).")
    var batch: Int = 1

    @Flag(help: "Print JSON (otherwise a short summary).")
    var json = false

    func validate() throws {
        guard Embedding.dimensions.contains(dim) else { throw ValidationError("--dim must be within 64...4096") }
        guard k >= 0 else { throw ValidationError("--k must not be negative") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    /// The gallery as a service loads a shard: one `ShardLoad` per core, filled in parallel.
    static func load(_ vectors: [[Float]], dimension: Int, options: Shard.Options) throws -> Shard {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, vectors.count / 1_024))
        let bounds = (0...parts).map { $0 * vectors.count / parts }
        let loads = try (0..<parts).map { _ in try ShardLoad(dimension: dimension, options: options, expectedRows: vectors.count / parts + 1) }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for row in bounds[part]..<bounds[part + 1] {
                _ = vectors[row].withUnsafeBufferPointer { loads[part].append(face: faceID(row), person: "row-\(row)", embedding: $0) }
            }
        }
        return try Shard(dimension: dimension, options: options, loaded: loads)
    }

    func run() async throws {
        let galleryVectors = try Self.readVectors(gallery, dimension: dim)
        let queryVectors = try Self.readVectors(queries, dimension: dim)

        let loadStart = ContinuousClock.now
        let shard = try Self.load(galleryVectors, dimension: dim, options: .init(quantized: mode != .fp32))
        let loadMilliseconds = (ContinuousClock.now - loadStart).milliseconds

        let groups = stride(from: 0, to: queryVectors.count, by: batch).map {
            Array(queryVectors[$0..<min($0 + batch, queryVectors.count)])
        }
        func search(_ group: [[Float]]) throws -> [[Match]] {
            batch == 1 ? [try shard.search(group[0], k: k, mode: mode)] : try shard.search(batch: group, k: k)
        }
        for group in groups { _ = try search(group) }  // warm-up: page in, spin up threads
        var latencies: [Double] = []
        var results: [[Match]] = []
        let timedStart = ContinuousClock.now
        for group in groups {
            let start = ContinuousClock.now
            results += try search(group)
            latencies.append((ContinuousClock.now - start).milliseconds)
        }
        let total = (ContinuousClock.now - timedStart).milliseconds

        let sorted = latencies.sorted()
        let report = Report(
            n: galleryVectors.count, dim: dim, k: k,
            mode: batch > 1 ? "batch-sgemm" : shard.resolvedMode(mode).rawValue,
            kernel: DotKernel.name, batch: batch, queries: queryVectors.count,
            p50_ms: percentile(sorted, 0.50), p99_ms: percentile(sorted, 0.99),
            qps: total > 0 ? Double(queryVectors.count) / (total / 1000) : 0,
            load_ms: loadMilliseconds, memory_bytes: shard.memoryBytes,
            results: results.map { matches in
                Report.Result(rows: matches.map { Self.row(of: $0.faceID) }, scores: matches.map(\.score))
            })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("""
                \(report.n) × \(report.dim) gallery, \(report.queries) queries, k = \(k), mode \(report.mode) (\(report.kernel))
                load \(Self.format(report.load_ms)) ms, memory \(report.memory_bytes / 1_048_576) MiB
                p50 \(Self.format(report.p50_ms)) ms, p99 \(Self.format(report.p99_ms)) ms\(batch > 1 ? " per batch of \(batch)" : ""), \
                \(Self.format(report.qps)) queries/s
                """)
        }
    }

    struct Report: Encodable {
        struct Result: Encodable {
            var rows: [Int]
            var scores: [Float]
        }

        var n: Int
        var dim: Int
        var k: Int
        var mode: String
        var kernel: String
        var batch: Int
        var queries: Int
        var p50_ms: Double
        var p99_ms: Double
        var qps: Double
        var load_ms: Double
        var memory_bytes: Int
        var results: [Result]
    }

    static func readVectors(_ path: String, dimension: Int) throws -> [[Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        let width = dimension * MemoryLayout<Float>.size
        guard data.count % width == 0 else {
            throw CommandFailure("\(path): \(data.count) bytes is not a whole number of \(dimension)-float vectors")
        }
        return data.withUnsafeBytes { bytes in
            (0..<(data.count / width)).map { row in
                (0..<dimension).map { column in
                    Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: row * width + column * 4, as: UInt32.self)))
                }
            }
        }
    }

    /// Gallery row r is stored as the face whose id encodes r.
    static func faceID(_ row: Int) -> UUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: UInt64(row).bigEndian) { bytes.replaceSubrange(8..<16, with: $0) }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    static func row(of id: UUID) -> Int {
        withUnsafeBytes(of: id.uuid) { Int(UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))) }
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }
}

extension SearchMode: ExpressibleByArgument {}

/// The value at `fraction` (0...1) of `sorted` (nearest rank), as every bench reports it.
func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
