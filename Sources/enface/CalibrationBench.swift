// `enface bench calibration`: what a big tenant's calibration costs, and what the searches of
// other tenants feel while it runs — the same open-loop load measured alone first (the reference
// run), then during the job, in one process, as the server runs them (searches as Swift tasks,
// the job on its own low-priority thread).

import ArgumentParser
import FaceIndex
import FaceService
import Foundation
import Tenancy

struct CalibrationBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibration",
        abstract: "Time one big tenant's gallery calibration and other tenants' search latency during it.",
        discussion: """
            Synthetic galleries: one of --faces faces (persons of 1, 2 and 3 faces in turn) and \
            --small-tenants of --small-faces each. Searches of the small tenants are sent on a fixed \
            schedule (--rate a second, open loop: latency counts from the scheduled time) for \
            --seconds alone, then for as long as the big tenant's calibration runs. Prints both \
            runs' p50/p99/max and the job's time.
            """)

    @Option(help: "Faces of the big tenant.") var faces = 100_000
    @Option(help: "Vector dimension.") var dim = 512
    @Option(help: "Small tenants searched meanwhile.") var smallTenants = 20
    @Option(help: "Faces of each small tenant.") var smallFaces = 2_000
    @Option(help: "Searches a second, over the small tenants.") var rate = 200
    @Option(help: "Seconds of the reference run.") var seconds = 10
    @Option(help: "Persons measured exactly up to this many, sampled above.") var sampleLimit = 5_000
    @Option(help: "The job thread's nice value (the service uses 10).") var niceness: Int32 = 10

    func validate() throws {
        guard Embedding.dimensions.contains(dim) else { throw ValidationError("--dim must be within 64...4096") }
        guard faces > 0, smallTenants > 0, smallFaces > 0, rate > 0, seconds > 0, sampleLimit > 0 else {
            throw ValidationError("counts must be positive")
        }
    }

    func run() async throws {
        var generator = Generator(seed: 2026)
        let started = ContinuousClock.now
        let big = try Self.gallery(faces: faces, dimension: dim, generator: &generator)
        let small = try (0..<smallTenants).map { _ in try Self.gallery(faces: smallFaces, dimension: dim, generator: &generator) }
        let probes = (0..<1_000).map { _ in generator.vector(dim) }
        print("built \(faces) + \(smallTenants)×\(smallFaces) faces in \(Int((ContinuousClock.now - started).milliseconds)) ms")

        let alone = try await Self.load(small, probes: probes, rate: rate) { $0 >= Double(seconds) }
        let calibrations = GalleryCalibrations(sampleLimit: sampleLimit, niceness: niceness)
        let tenant = UUID()
        let threshold: (Int) -> Threshold = { _ in Threshold(value: 0.5, source: "bench") }
        let jobStarted = ContinuousClock.now
        _ = await calibrations.calibration(tenant: tenant, shard: big, wait: .zero, threshold: threshold)
        let during = try await Self.load(small, probes: probes, rate: rate) { _ in
            // Until the job is done (asked without waiting: a finished job answers ready).
            if case .ready = await calibrations.calibration(tenant: tenant, shard: big, wait: .zero, threshold: threshold) {
                return true
            }
            return false
        }
        let jobSeconds = (ContinuousClock.now - jobStarted).milliseconds / 1_000
        guard case .ready(let result) = await calibrations.calibration(tenant: tenant, shard: big, wait: .zero, threshold: threshold)
        else { throw CommandFailure("the calibration did not finish") }

        print("calibration: \(result.persons) persons, \(result.faces) faces, \(result.method) (\(result.measuredPersons) measured), ",
              "\(result.genuine.count) genuine pairs, \(String(format: "%.1f", jobSeconds)) s (nice \(niceness))", separator: "")
        print("| run | searches | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for (name, latencies) in [("alone", alone), ("during calibration", during)] {
            let sorted = latencies.sorted()
            print("| \(name) | \(sorted.count) | \(Self.format(Self.percentile(sorted, 0.5))) | "
                  + "\(Self.format(Self.percentile(sorted, 0.99))) | \(Self.format(sorted.last ?? 0)) |")
        }
        let ratio = Self.percentile(during.sorted(), 0.99) / max(1e-9, Self.percentile(alone.sorted(), 0.99))
        print("p99 during / alone: \(String(format: "%.2f", ratio))")
    }

    /// Searches sent at `rate` a second over the galleries until `done(elapsed seconds)`: each
    /// one's latency from its scheduled start, in milliseconds.
    static func load(
        _ galleries: [Shard], probes: [[Float]], rate: Int, until done: (Double) async -> Bool
    ) async throws -> [Double] {
        let start = ContinuousClock.now
        let interval = Duration.seconds(1) / rate
        return try await withThrowingTaskGroup(of: Double.self) { group in
            var sent = 0
            while await !done((ContinuousClock.now - start).milliseconds / 1_000) {
                let scheduled = start + interval * sent
                try await Task.sleep(until: scheduled, clock: .continuous)
                let (shard, probe) = (galleries[sent % galleries.count], probes[sent % probes.count])
                group.addTask {
                    _ = try shard.searchPersons(probe, k: 10, minScore: 0.5)
                    return (ContinuousClock.now - scheduled).milliseconds
                }
                sent += 1
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// A shard of random identities, persons of 1, 2 and 3 faces in turn.
    static func gallery(faces: Int, dimension: Int, generator: inout Generator) throws -> Shard {
        let shard = try Shard(dimension: dimension)
        var batch: [Shard.Face] = []
        var person = 0
        while batch.count < faces {
            let centre = generator.vector(dimension)
            for _ in 0..<min(1 + person % 3, faces - batch.count) {
                batch.append(Shard.Face(id: UUID(), person: "p\(person)", embedding: centre.map { $0 + 0.8 * generator.gaussian() }))
            }
            person += 1
        }
        try shard.add(contentsOf: batch)
        return shard
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }

    static func format(_ milliseconds: Double) -> String { String(format: "%.2f", milliseconds) }

    /// Gaussian values from a seeded SplitMix64 (Box–Muller): every run builds the same galleries.
    struct Generator {
        var random: SplitMix64

        init(seed: UInt64) { random = SplitMix64(seed: seed) }

        mutating func gaussian() -> Float {
            let u = Float.random(in: Float.leastNonzeroMagnitude..<1, using: &random)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * Float.random(in: 0..<1, using: &random))
        }

        mutating func vector(_ dimension: Int) -> [Float] { (0..<dimension).map { _ in gaussian() } }
    }
}
