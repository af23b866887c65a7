// dlib on real photos: who is who, how many faces a group holds, what is refused and how the
// pool behaves when more photos come than engines.

import FaceImages
import Foundation
import Synchronization
import Testing
import TestSupport
import WireFormats

@Suite(.serialized)
struct FaceEnginePoolTests {
    static let pool = FaceEnginePool(weights: Photos.weights, engines: 2, queueLimit: 4, maxPixels: 40_000_000)
    /// The manifest's threshold for dlib-resnet-v1 (models/dlib-resnet-v1.json).
    static let threshold: Float = 0.93

    static func faces(_ name: String, options: ImageOptions = ImageOptions()) async throws -> [DetectedFace] {
        try await pool.analyze(try Photos.bytes(name), options: options).faces
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let norms = (a.reduce(0) { $0 + $1 * $1 } * b.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return dot / norms
    }

    @Test func obamaVerifiesAgainstObamaFromAnotherPhotoAndBidenDoesNot() async throws {
        let enrolled = try #require(try await Self.faces("obama.jpg").first)
        #expect(enrolled.descriptor.count == 128 && enrolled.score >= 0.6)
        for photo in ["obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"] {
            let best = try await Self.faces(photo).map { Self.cosine($0.descriptor, enrolled.descriptor) }.max()
            #expect((best ?? 0) >= Self.threshold, "\(photo): \(String(describing: best))")
        }
        for photo in ["biden.jpg", "Tom_Hanks_54745.png", "astronaut.png"] {
            for face in try await Self.faces(photo, options: ImageOptions(minFaceSide: 20)) {
                #expect(Self.cosine(face.descriptor, enrolled.descriptor) < Self.threshold, "\(photo)")
            }
        }
    }

    @Test func aGroupPhotoYieldsEveryFaceAndTheAstronautOne() async throws {
        let group = try await Self.faces("t1.jpg")
        #expect(group.count >= 4, "\(group.map(\.score))")
        #expect(zip(group, group.dropFirst()).allSatisfy { $0.score >= $1.score })
        let astronaut = try await Self.faces("astronaut.png")
        #expect(astronaut.count == 1, "\(astronaut.map(\.score))")
        // Boxes only: no descriptor computed.
        let boxes = try await Self.faces("t1.jpg", options: ImageOptions(describe: false))
        #expect(boxes.count == group.count && boxes.allSatisfy(\.descriptor.isEmpty))
    }

    @Test func theExifOrientationIsHonoured() async throws {
        // Stored turned a quarter counter-clockwise, as a phone writes it, with EXIF 6 saying
        // "turn it clockwise to view": dlib alone would see a face on its side and find none.
        let stored = try Photos.bytes("rotated/obama-exif6.jpg")
        #expect(ImageHeader.read(stored) == ImageHeader(format: .jpeg, width: 1137, height: 910, orientation: 6))
        let turned = try await Self.pool.analyze(stored)
        #expect(turned.header.width == 910 && turned.header.height == 1137)
        let face = try #require(turned.faces.first)
        #expect(turned.faces.count == 1)
        let upright = try #require(try await Self.faces("obama.jpg").first)
        #expect(Self.cosine(face.descriptor, upright.descriptor) >= 0.99)
        #expect(abs(face.left - upright.left) <= 8 && abs(face.top - upright.top) <= 8)

        // The same pixels with an EXIF block saying "as stored" (the first block wins): no face.
        #expect(try await Self.pool.analyze(Photos.withOrientation(stored, 1)).faces.isEmpty)
        // And an upright photo told to turn: its width and height swap, and the face is gone.
        let misled = try await Self.pool.analyze(Photos.withOrientation(try Photos.bytes("obama.jpg"), 6))
        #expect(misled.header.width == 1137 && misled.header.height == 910 && misled.faces.isEmpty)
    }

    @Test func badImagesAreRefusedWithTheirReason() async throws {
        let bomb = PNG.header(width: 30_000, height: 30_000) + [UInt8](repeating: 0, count: 64)
        await #expect(throws: FaceImageError.tooManyPixels(width: 30_000, height: 30_000, limit: 40_000_000)) {
            try await Self.pool.analyze(bomb)
        }
        for junk in [[], Array("not an image".utf8), Array(try Photos.bytes("obama.jpg").prefix(2_000))] {
            await #expect {
                try await Self.pool.analyze(junk)
            } throws: { error in
                if case FaceImageError.invalidImage = error { return true }
                return false
            }
        }
        let blank = PNG.encode(width: 320, height: 240) { x, y in (UInt8(x % 256), UInt8(y % 256), 128) }
        #expect(try await Self.pool.analyze(blank).faces.isEmpty)
    }

    @Test func sixteenPhotosAtOnceAreAnsweredOrRefusedAsBusyNeverQueuedBeyondTheLimit() async throws {
        let photo = try Photos.bytes("astronaut.png")
        let deepest = Deepest()
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    do {
                        let analysis = try await Self.pool.analyze(photo)
                        return analysis.faces.count == 1 ? "ok" : "wrong"
                    } catch FaceImageError.busy {
                        return "busy"
                    } catch {
                        return "\(error)"
                    }
                }
            }
            group.addTask {
                for _ in 0..<200 {
                    deepest.note(Self.pool.queueDepth)
                    try? await Task.sleep(for: .milliseconds(5))
                }
                return "watcher"
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes["ok", default: 0] + outcomes["busy", default: 0] == 16, "\(outcomes)")
        #expect(outcomes["ok", default: 0] >= 6, "two engines and four places in line: \(outcomes)")
        #expect(deepest.value <= 4)
    }
}

/// The deepest queue seen.
final class Deepest: Sendable {
    private let deepest = Mutex(0)
    var value: Int { deepest.withLock { $0 } }
    func note(_ depth: Int) { deepest.withLock { $0 = max($0, depth) } }
}
