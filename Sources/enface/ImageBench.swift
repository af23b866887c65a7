// `enface bench images`: photos per second and time per stage of the face engines, on photos
// anyone can fetch (bench/images uses scripts/test-photos).

import ArgumentParser
import FaceImages
import Foundation
import Synchronization

struct ImageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Run every photo of a folder through the face engines; print images/s and p50 per stage.",
        discussion: """
            Each engine first analyses one photo untimed (it loads its models then). Then every \
            photo runs --rounds times, with one engine and then with --workers engines side by \
            side. Prints a Markdown table and, with --json, the figures.
            """)

    @Option(help: "Folder of JPEG and PNG photos.") var photos: String
    @Option(help: "Folder of the model's weights.") var weights = "models/weights"
    @Option(help: "Times each photo runs.") var rounds = 5
    @Option(help: "Engines side by side in the second run.") var workers = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Write the figures here as JSON too.") var json: String?
    @Option(help: "Measure fairness instead: this photo (a group) floods from one client while another sends --single.")
    var flood: String?
    @Option(help: "With --flood: the single-face photo the second client sends.") var single: String?

    struct Run: Encodable {
        var engines: Int
        var photos: Int
        var faces: Int
        var seconds: Double
        var imagesPerSecond: Double
        var p50: [String: Double]
        var p90: [String: Double]
    }

    func run() async throws {
        if let flood {
            guard let single else { throw ValidationError("--flood needs --single") }
            return try await measureFairness(flood: flood, single: single)
        }
        let folder = URL(fileURLWithPath: photos)
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { ["jpg", "jpeg", "png"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !files.isEmpty else { throw CommandFailure("no JPEG or PNG in \(photos)") }
        let images = try files.map { Array(try Data(contentsOf: $0)) }
        var runs: [Run] = []
        for engines in Array(Set([1, workers])).sorted() {
            runs.append(try await measure(images, engines: engines))
        }
        let stages = ["decode", "detect", "describe", "total"]
        print("\(images.count) photos × \(rounds) rounds (\(files.map(\.lastPathComponent).joined(separator: ", ")))")
        print("| engines | images/s | faces | " + stages.map { "p50 \($0) ms" }.joined(separator: " | ") + " |")
        print("|---:|---:|---:|" + String(repeating: "---:|", count: stages.count))
        for run in runs {
            let cells = stages.map { String(format: "%.1f", run.p50[$0] ?? 0) }
            print("| \(run.engines) | \(String(format: "%.2f", run.imagesPerSecond)) | \(run.faces) | " + cells.joined(separator: " | ") + " |")
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(runs).write(to: URL(fileURLWithPath: json))
        }
    }

    func measure(_ images: [[UInt8]], engines: Int) async throws -> Run {
        let pool = FaceEnginePool(
            weights: URL(fileURLWithPath: weights), engines: engines, queueLimit: images.count * rounds, maxPixels: 100_000_000)
        // Load every engine: as many photos at once as engines.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<engines { group.addTask { _ = try await pool.analyze(images[0]) } }
            try await group.waitForAll()
        }
        let started = ContinuousClock.now
        let analyses = try await withThrowingTaskGroup(of: (ImageAnalysis, Duration).self) { group in
            for _ in 0..<rounds {
                for image in images {
                    group.addTask {
                        let begun = ContinuousClock.now
                        let analysis = try await pool.analyze(image)
                        return (analysis, ContinuousClock.now - begun - analysis.queued)
                    }
                }
            }
            return try await group.reduce(into: [(ImageAnalysis, Duration)]()) { $0.append($1) }
        }
        let seconds = (ContinuousClock.now - started).milliseconds / 1_000
        // Each stage's milliseconds, sorted.
        let stages = ([
            "decode": analyses.map(\.0.decode), "detect": analyses.map(\.0.detect),
            "describe": analyses.map(\.0.describe), "total": analyses.map(\.1),
        ] as [String: [Duration]]).mapValues { $0.map(\.milliseconds).sorted() }
        return Run(
            engines: engines, photos: analyses.count, faces: analyses.reduce(0) { $0 + $1.0.faces.count } / rounds,
            seconds: seconds, imagesPerSecond: Double(analyses.count) / seconds,
            p50: stages.mapValues { percentile($0, 0.5) }, p90: stages.mapValues { percentile($0, 0.9) })
    }

    /// One client sends its single-face photo one at a time, first alone, then while another
    /// client keeps `workers × 3` group photos in flight; prints both latencies and their ratio.
    func measureFairness(flood: String, single: String) async throws {
        let folder = URL(fileURLWithPath: photos)
        let group = Array(try Data(contentsOf: folder.appendingPathComponent(flood)))
        let portrait = Array(try Data(contentsOf: folder.appendingPathComponent(single)))
        let pool = FaceEnginePool(weights: URL(fileURLWithPath: weights), engines: workers, queueLimit: 64, maxPixels: 100_000_000)
        let (small, large) = (UUID(), UUID())
        try await withThrowingTaskGroup(of: Void.self) { warm in
            for _ in 0..<workers { warm.addTask { _ = try await pool.analyze(group, client: large) } }
            try await warm.waitForAll()
        }
        func sample(_ count: Int) async throws -> [Double] {
            var times: [Double] = []
            for _ in 0..<count {
                let started = ContinuousClock.now
                _ = try await pool.analyze(portrait, client: small)
                times.append((ContinuousClock.now - started).milliseconds)
            }
            return times.sorted()
        }
        let samples = rounds * 8
        let quiet = try await sample(samples)
        let flooding = ManagedAtomicFlag()
        let (loaded, floodPhotos) = try await withThrowingTaskGroup(of: Int.self) { tasks in
            for _ in 0..<(workers * 3) {
                tasks.addTask {
                    var done = 0
                    while !flooding.isSet {
                        if (try? await pool.analyze(group, options: ImageOptions(maxFaces: 10), client: large)) != nil { done += 1 }
                    }
                    return done
                }
            }
            let loaded = try await sample(samples)
            flooding.set()
            return (loaded, try await tasks.reduce(0, +))
        }
        let ratio = percentile(loaded, 0.99) / max(0.001, percentile(quiet, 0.99))
        print("single-face photos of one client, \(samples) each, \(workers) engine(s); the other client's group photos done meanwhile: \(floodPhotos)")
        print("| while | p50 ms | p99 ms |")
        print("|---|---:|---:|")
        print("| alone | \(String(format: "%.1f", percentile(quiet, 0.5))) | \(String(format: "%.1f", percentile(quiet, 0.99))) |")
        print("| another client floods | \(String(format: "%.1f", percentile(loaded, 0.5))) | \(String(format: "%.1f", percentile(loaded, 0.99))) |")
        print(String(format: "p99 under flood / alone: %.2f (target ≤ 3)", ratio))
    }
}

/// A flag one task sets and others read.
final class ManagedAtomicFlag: Sendable {
    private let value = Synchronization.Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
