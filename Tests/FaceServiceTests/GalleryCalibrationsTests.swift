// Calibration jobs: a gallery too big to answer at once is a job whose progress is reported,
// one job runs at a time for the node (the next waits its turn), and a result is kept only
// while the shard it came from is unchanged.

import FaceIndex
import Foundation
import Tenancy
import Testing
import TestSupport

@testable import FaceService

struct GalleryCalibrationsTests {
    static func shard(persons: Int, facesEach: Int = 2, seed: UInt64) throws -> Shard {
        var generator = SeededGenerator(seed: seed)
        let shard = try Shard(dimension: 128)
        try shard.add(
            contentsOf: (0..<(persons * facesEach)).map {
                Shard.Face(id: UUID(), person: "p\($0 / facesEach)", embedding: generator.vector(128))
            })
        return shard
    }

    static let threshold: @Sendable (Int) -> Threshold = { _ in Threshold(value: 0.5, source: "matchThreshold") }

    func ready(_ calibrations: GalleryCalibrations, _ tenant: UUID, _ shard: Shard) async throws -> GalleryCalibration {
        try await poll("the calibration of \(tenant)") {
            if case .ready(let calibration) = await calibrations.calibration(
                tenant: tenant, shard: shard, wait: .milliseconds(50), threshold: Self.threshold)
            { return calibration }
            return nil
        }
    }

    @Test func aBigGalleryIsAJobThatReportsProgressThenAnswersFromASample() async throws {
        let calibrations = GalleryCalibrations(sampleLimit: 2_000)
        let (big, small) = (try Self.shard(persons: 10_000, seed: 1), try Self.shard(persons: 30, seed: 2))
        let (bigTenant, smallTenant) = (UUID(), UUID())
        // Not waited for: the answer is the job's progress (or, on a fast machine, the result).
        if case .running(let progress, let startedAt) = await calibrations.calibration(
            tenant: bigTenant, shard: big, wait: .zero, threshold: Self.threshold)
        {
            #expect((0...1).contains(progress) && startedAt <= Date())
        }
        // Asked meanwhile, a second tenant's job waits its turn, then runs.
        let smallOne = try await ready(calibrations, smallTenant, small)
        #expect(smallOne.method == "exact" && smallOne.persons == 30 && smallOne.measuredPersons == 30)
        let bigOne = try await ready(calibrations, bigTenant, big)
        #expect(bigOne.method == "sampled" && bigOne.persons == 10_000 && bigOne.measuredPersons == 2_000 && bigOne.faces == 20_000)
        #expect(bigOne.genuine.count == 10_000 && bigOne.impostor.count == 2_000)
        // Kept while the shard is unchanged: the same computation, at once.
        let again = await calibrations.calibration(tenant: bigTenant, shard: big, wait: .zero, threshold: Self.threshold)
        guard case .ready(let kept) = again else { Issue.record("recomputed an unchanged shard"); return }
        #expect(kept.computedAt == bigOne.computedAt)
        // A write makes it stale: the next answer is a new computation.
        big.remove(person: "p0")
        let changed = try await ready(calibrations, bigTenant, big)
        #expect(changed.persons == 9_999 && changed.computedAt > bigOne.computedAt)
    }
}
