// `enface calibrate` as an operator runs it: real photos through the real photo path, the
// calibration written into a manifest (a copy here), the default threshold moved only when asked.

import Foundation
import Tenancy
import TestSupport
import Testing

struct CalibrateCommandTests {
    /// The single-face test photos, one folder per person: Obama ×4, Biden, Tom Hanks, the astronaut.
    static func labelledPhotos(in root: URL) throws {
        let people = [
            "obama.jpg": "Barack_Obama", "obama2.jpg": "Barack_Obama", "obama3.jpg": "Barack_Obama",
            "obama_partial_face.jpg": "Barack_Obama", "biden.jpg": "Joe_Biden", "Tom_Hanks_54745.png": "Tom_Hanks",
            "astronaut.png": "Eileen_Collins",
        ]
        for (photo, person) in people {
            let folder = root.appendingPathComponent(person)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(try Photos.bytes(photo)).write(to: folder.appendingPathComponent(photo))
        }
        // The same photo again under another name is counted once.
        try Data(try Photos.bytes("biden.jpg")).write(to: root.appendingPathComponent("Joe_Biden/biden-copy.jpg"))
    }

    @Test func realPhotosGiveACalibrationAndTheThresholdMovesOnlyWhenAsked() async throws {
        let scratch = try TemporaryDirectory()
        let photos = scratch.url.appendingPathComponent("photos")
        try Self.labelledPhotos(in: photos)
        let manifest = scratch.url.appendingPathComponent("dlib-resnet-v1.json")
        let bundled = TestEnvironment.repositoryRoot.appendingPathComponent("models/dlib-resnet-v1.json")
        try Data(contentsOf: bundled).write(to: manifest)
        let before = try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: manifest))

        let run = try await EnfaceProcess.run(["calibrate", "--photos", photos.path, "--manifest", manifest.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("left out Joe_Biden/biden.jpg: the same photo as Joe_Biden/biden-copy.jpg"), "\(run.output)")
        let after = try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: manifest))
        let calibration = try #require(after.calibration)
        // 7 photos of 4 persons: the 6 pairs among Obama's 4 are genuine, the other 15 impostor.
        #expect(calibration.photos.count == 7 && calibration.persons == 4)
        #expect(calibration.genuinePairs == 6 && calibration.impostorPairs == 15)
        #expect(calibration.photos.allSatisfy { $0.sha256.count == 64 })
        // Every genuine pair scores above every impostor pair on these photos (dlib, not centred).
        let (genuineLowest, impostorHighest) = (try #require(calibration.genuine["0"]), try #require(calibration.impostor["1"]))
        #expect(genuineLowest > impostorHighest && impostorHighest > 0.7)
        // 15 impostor pairs support only the loosest rate: a bound of 0.19 with no false match.
        #expect(calibration.operatingPoints.map(\.falseMatchRate) == [0.19])
        #expect(after.defaultMatchThreshold == before.defaultMatchThreshold)

        // Asked, the default follows the point; a rate the pairs cannot support is refused.
        let refused = try await EnfaceProcess.run(["calibrate", "--photos", photos.path, "--manifest", manifest.path, "--default-at", "0.01"])
        #expect(refused.status != 0 && refused.output.contains("do not support a false-match rate of 0.01"), "\(refused.output)")
        let moved = try await EnfaceProcess.run(["calibrate", "--photos", photos.path, "--manifest", manifest.path, "--default-at", "0.19"])
        #expect(moved.status == 0, "\(moved.output)")
        let point = try #require(calibration.operatingPoints.first)
        let final = try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: manifest))
        #expect(final.defaultMatchThreshold == point.threshold && final.thresholdSource.contains("false-match rate 0.19"))
    }
}
