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
        try await poll(timeout: .seconds(60), "the calibration of \(tenant)") {
            if case .ready(let calibration) = await calibrations.calibration(
                tenant: tenant, shard: shard, wait: .milliseconds(50), threshold: Self.threshold)
            { return calibration }
            return nil
        }
    }

    @Test func aBigGalleryIsAJobThatReportsProgressThenAnswersFromASample() async throws {
        // Paced so slowly that a changed gallery is never scored again within the test.
        let calibrations = GalleryCalibrations(sampleLimit: 500, pacing: 1_000_000)
        let (big, small) = (try Self.shard(persons: 3_000, seed: 1), try Self.shard(persons: 30, seed: 2))
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
        #expect(bigOne.method == "sampled" && bigOne.persons == 3_000 && bigOne.measuredPersons == 500 && bigOne.faces == 6_000)
        #expect(bigOne.genuine.count == 3_000 && bigOne.impostor.count == 500)
        // Kept while the shard is unchanged: the same computation, at once.
        let again = await calibrations.calibration(tenant: bigTenant, shard: big, wait: .zero, threshold: Self.threshold)
        guard case .ready(let kept) = again else { Issue.record("recomputed an unchanged shard"); return }
        #expect(kept.computedAt == bigOne.computedAt && kept.current)
        // A write makes it stale; before its pace allows another job, the last one answers, marked so.
        big.remove(person: "p0")
        let paced = await calibrations.calibration(tenant: bigTenant, shard: big, wait: .zero, threshold: Self.threshold)
        guard case .ready(let stale) = paced else { Issue.record("a paced gallery got no answer"); return }
        #expect(!stale.current && stale.persons == 3_000 && stale.computedAt == bigOne.computedAt)
    }

    @Test func aChangedGalleryIsScoredAgainOnceItsPaceAllows() async throws {
        let calibrations = GalleryCalibrations(pacing: 0)
        let (shard, tenant) = (try Self.shard(persons: 40, seed: 3), UUID())
        let first = try await ready(calibrations, tenant, shard)
        #expect(first.current && first.persons == 40)
        shard.remove(person: "p0")
        let changed = try await poll(timeout: .seconds(60), "a new calibration") { () -> GalleryCalibration? in
            let found = try await ready(calibrations, tenant, shard)
            return found.current ? found : nil
        }
        #expect(changed.persons == 39 && changed.computedAt >= first.computedAt)
        // Scores are kept for a bounded number of tenants: the least recently computed go.
        let small = GalleryCalibrations(kept: 1)
        let (a, b) = (UUID(), UUID())
        _ = try await ready(small, a, shard)
        _ = try await ready(small, b, try Self.shard(persons: 5, seed: 4))
        #expect(small.keptTenants == [b])
    }
}
