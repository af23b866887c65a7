// `enface calibrate`: every pair of labelled photos scored through the real photo path (decode,
// detect, align, describe), and the model's calibration written into its manifest.

import ArgumentParser
import Crypto
import FaceImages
import Foundation
import Tenancy

struct Calibrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score every pair of labelled photos and write the model's calibration into models/<model>.json.",
        discussion: """
            Each --photos folder holds one folder per person, of JPEG or PNG photos with exactly one \
            face each (a photo with none or several is left out, and said). Every pair of two \
            photos of one person is genuine, every other pair impostor. The manifest gets the \
            photos' SHA-256, the pair counts, both score distributions and the threshold at each \
            false-match rate the impostor pairs support (the rate's 95 % Clopper–Pearson upper \
            bound within it). With --default-at, the model's default threshold becomes that rate's.
            """)

    @Option(help: "The model whose extractor scores the photos.") var model = "dlib-resnet-v1"
    @Option(parsing: .upToNextOption, help: "Folders of one folder per person.") var photos: [String]
    @Option(help: "Folder of the model's weights.") var weights = "models/weights"
    @Option(help: "The manifest to write (default: models/<model>.json).") var manifest: String?
    @Option(help: "Set the default threshold to the operating point at this false-match rate.") var defaultAt: Double?

    func run() async throws {
        let path = URL(fileURLWithPath: manifest ?? "models/\(model).json").resolvingSymlinksInPath()
        var current = try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: path))
        guard current.extractor == "dlib" else { throw ValidationError("\(model) has no extractor in Enface to score photos with") }

        let labelled = try Self.labelledPhotos(photos)
        guard Set(labelled.map(\.photo.person)).count >= 2 else { throw CommandFailure("need photos of at least two persons") }
        let pool = FaceEnginePool(
            weights: URL(fileURLWithPath: weights), engines: ProcessInfo.processInfo.activeProcessorCount,
            queueLimit: labelled.count, maxPixels: 100_000_000)
        let analysed = try await withThrowingTaskGroup(of: (Int, [DetectedFace]).self) { group in
            for (index, item) in labelled.enumerated() {
                group.addTask { (index, try await pool.analyze(item.bytes).faces) }
            }
            return try await group.reduce(into: [Int: [DetectedFace]]()) { $0[$1.0] = $1.1 }
        }
        var used: [(photo: Calibration.Photo, embedding: [Float])] = []
        var seen: [String: String] = [:]
        for (index, item) in labelled.enumerated() {
            // The same photo twice would be a "genuine" pair scoring 1.
            if let first = seen[item.photo.sha256] {
                print("left out \(item.photo.path): the same photo as \(first)")
                continue
            }
            seen[item.photo.sha256] = item.photo.path
            let faces = analysed[index] ?? []
            guard faces.count == 1, let face = faces.first else {
                print("left out \(item.photo.path): \(faces.count) faces")
                continue
            }
            used.append((item.photo, Self.unit(face.descriptor)))
        }
        var genuine: [Double] = []
        var impostor: [Double] = []
        for i in used.indices {
            for j in used.indices where j > i {
                let score = zip(used[i].embedding, used[j].embedding).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                if used[i].photo.person == used[j].photo.person { genuine.append(score) } else { impostor.append(score) }
            }
        }
        guard !genuine.isEmpty, !impostor.isEmpty else {
            throw CommandFailure("\(genuine.count) genuine and \(impostor.count) impostor pairs: need two photos of one person, and two persons")
        }
        let calibration = Calibration(
            photos: used.map(\.photo), persons: Set(used.map(\.photo.person)).count, genuine: genuine, impostor: impostor)
        current.calibration = calibration
        if let defaultAt {
            guard let point = calibration.operatingPoints.first(where: { $0.falseMatchRate == defaultAt }) else {
                throw CommandFailure("\(impostor.count) impostor pairs do not support a false-match rate of \(defaultAt)")
            }
            current.defaultMatchThreshold = point.threshold
            current.thresholdSource =
                "enface calibrate: the threshold at false-match rate \(defaultAt) (95 % upper bound "
                + "\(String(format: "%.2g", point.falseMatchRateUpper95))) over \(impostor.count) impostor and \(genuine.count) genuine pairs "
                + "of \(used.count) photos of \(calibration.persons) persons (the calibration below)"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (encoder.encode(current) + Data("\n".utf8)).write(to: path)
        Self.printTable(calibration, default: current.defaultMatchThreshold)
    }

    /// Every photo under each folder's person folders, in a stable order.
    static func labelledPhotos(_ folders: [String]) throws -> [(photo: Calibration.Photo, bytes: [UInt8])] {
        var found: [(photo: Calibration.Photo, bytes: [UInt8])] = []
        let files = FileManager.default
        for folder in folders {
            let root = URL(fileURLWithPath: folder)
            for person in try files.contentsOfDirectory(atPath: root.path).sorted() {
                let directory = root.appendingPathComponent(person)
                var isDirectory: ObjCBool = false
                guard files.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                for name in try files.contentsOfDirectory(atPath: directory.path).sorted()
                where ["jpg", "jpeg", "png"].contains((name as NSString).pathExtension.lowercased()) {
                    let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
                    let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
                    found.append((Calibration.Photo(path: "\(person)/\(name)", person: person, sha256: digest), bytes))
                }
            }
        }
        return found
    }

    static func unit(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }

    static func printTable(_ calibration: Calibration, default threshold: Double) {
        print("\(calibration.photos.count) photos of \(calibration.persons) persons: \(calibration.genuinePairs) genuine pairs, \(calibration.impostorPairs) impostor pairs")
        print("genuine  min \(calibration.genuine["0"] ?? .nan)  median \(calibration.genuine["0.5"] ?? .nan)  max \(calibration.genuine["1"] ?? .nan)")
        print("impostor min \(calibration.impostor["0"] ?? .nan)  median \(calibration.impostor["0.5"] ?? .nan)  max \(calibration.impostor["1"] ?? .nan)")
        print("| FMR | threshold | false matches | FMR 95 % upper bound | FNMR |")
        print("|---|---|---|---|---|")
        for point in calibration.operatingPoints {
            print(
                "| \(point.falseMatchRate) | \(point.threshold) | \(point.falseMatches) | "
                    + "\(String(format: "%.2g", point.falseMatchRateUpper95)) | \(String(format: "%.3f", point.falseNonMatchRate)) |")
        }
        print("default threshold: \(threshold)")
    }
}
