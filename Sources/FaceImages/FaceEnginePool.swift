// Photos in, faces out: a fixed set of dlib engines, each on its own thread, behind a bounded
// queue. A full queue is an immediate refusal (the caller answers 503), never a backlog.

import CBLAS
import CFaceEngine
import Dispatch
import Foundation
import Synchronization
import WireFormats

/// One face found in a photo.
public struct DetectedFace: Sendable, Equatable {
    /// The face's box in the upright photo's pixels.
    public var left: Int, top: Int, right: Int, bottom: Int
    /// The detector's score (real faces were >= 0.6 here, false ones < 0.3).
    public var score: Double
    /// The model's 128-d descriptor, as the network gave it (not normalised); empty when the
    /// analysis was asked for boxes only.
    public var descriptor: [Float]
}

/// What the analysis of one photo found, and what each stage cost.
public struct ImageAnalysis: Sendable {
    public var header: ImageHeader
    /// Faces kept (score and size filters passed), best score first; at most
    /// `ImageOptions.maxFaces`.
    public var faces: [DetectedFace]
    public var queued: Duration
    public var decode: Duration
    public var detect: Duration
    public var describe: Duration
}

public struct ImageOptions: Sendable, Equatable {
    public var minScore: Double
    /// The narrowest face box kept, in the photo's pixels.
    public var minFaceSide: Int
    /// Boxes only, or boxes and descriptors.
    public var describe: Bool
    public var maxFaces: Int

    public init(minScore: Double = 0.5, minFaceSide: Int = 40, describe: Bool = true, maxFaces: Int = 64) {
        self.minScore = minScore
        self.minFaceSide = minFaceSide
        self.describe = describe
        self.maxFaces = maxFaces
    }
}

public enum FaceImageError: Error, Equatable, Sendable {
    /// Not a JPEG or PNG, or bytes that do not decode.
    case invalidImage(String)
    /// More pixels than allowed, refused from the header before decoding.
    case tooManyPixels(width: Int, height: Int, limit: Int)
    /// Every engine is busy and the queue is full.
    case busy
    /// The model's weights are missing or do not load (run models/fetch).
    case unavailable(String)
    case failed(String)
}

public final class FaceEnginePool: Sendable {
    public let engines: Int
    public let queueLimit: Int
    public let maxPixels: Int
    /// HOG runs on a copy whose longer side is at most this many pixels.
    public let detectSide: Int
    let weights: URL
    private let slots: [Slot]
    private let scheduler: Mutex<EngineScheduler<UUID, CheckedContinuation<Int?, Never>>>

    /// `engines` engines (about 62 MB each, loaded on first use), at most `queueLimit` photos
    /// waiting for one.
    public init(weights: URL, engines: Int, queueLimit: Int, maxPixels: Int, detectSide: Int = 800) {
        precondition(engines > 0 && queueLimit >= 0)
        self.weights = weights
        self.engines = engines
        self.queueLimit = queueLimit
        self.maxPixels = maxPixels
        self.detectSide = detectSide
        self.slots = (0..<engines).map { Slot(queue: DispatchQueue(label: "enface.face-engine.\($0)")) }
        // One client may fill half the line: the other half is always there for the others.
        self.scheduler = Mutex(EngineScheduler(engines: engines, queueLimit: queueLimit, perClientQueue: max(1, queueLimit / 2)))
    }

    /// The files the engines load; both must exist for images to be accepted.
    public var landmarksFile: URL { weights.appendingPathComponent("shape_predictor_5_face_landmarks.dat") }
    public var descriptorFile: URL { weights.appendingPathComponent("dlib_face_recognition_resnet_model_v1.dat") }

    public var isAvailable: Bool {
        FileManager.default.fileExists(atPath: landmarksFile.path) && FileManager.default.fileExists(atPath: descriptorFile.path)
    }

    /// Photos waiting for an engine now.
    public var queueDepth: Int { scheduler.withLock { $0.waiting } }

    /// Analyses a photo of `client` (a tenant): engines are shared fairly between clients (see
    /// `EngineScheduler`), so one client's flood of group photos does not hold another's photo.
    public func analyze(
        _ bytes: [UInt8], options: ImageOptions = ImageOptions(), client: UUID = UUID()
    ) async throws(FaceImageError) -> ImageAnalysis {
        guard let header = ImageHeader.read(bytes) else { throw .invalidImage("not a JPEG or PNG whose size can be read") }
        guard header.pixels <= maxPixels, max(header.width, header.height) <= ImageHeader.maximumSide else {
            throw .tooManyPixels(width: header.width, height: header.height, limit: maxPixels)
        }
        guard min(header.width, header.height) >= ImageHeader.minimumSide else {
            throw .invalidImage(
                "\(header.width) × \(header.height) pixels cannot hold a face (at least \(ImageHeader.minimumSide) a side)")
        }
        guard isAvailable else { throw .unavailable("the model's weights are not in \(weights.path); run models/fetch") }
        let enqueued = ContinuousClock.now
        guard let index = await acquire(for: client) else { throw .busy }
        defer { release(index, from: client) }
        let queued = ContinuousClock.now - enqueued
        let slot = slots[index]
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ImageAnalysis, FaceImageError>, Never>) in
            slot.queue.async {
                continuation.resume(returning: Result { () throws(FaceImageError) -> ImageAnalysis in
                    let engine = try slot.engine(landmarks: self.landmarksFile, descriptor: self.descriptorFile)
                    var analysis = try engine.analyze(bytes, header: header, detectSide: self.detectSide, options: options)
                    analysis.queued = queued
                    return analysis
                })
            }
        }
        return try result.get()
    }

    /// An engine's index, at once or after waiting its turn; nil when the line is full.
    private func acquire(for client: UUID) async -> Int? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
            let (engine, accepted) = scheduler.withLock { $0.arrive(client, waiter: continuation, now: .now) }
            if let engine {
                continuation.resume(returning: engine)
            } else if !accepted {
                continuation.resume(returning: nil)
            }
        }
    }

    private func release(_ index: Int, from client: UUID) {
        let next = scheduler.withLock { $0.release(index, from: client, now: .now) }
        next?.waiter.resume(returning: next?.engine)
    }
}

/// One engine and the serial queue that alone touches it.
final class Slot: @unchecked Sendable {
    /// dlib's convolutions call OpenBLAS, which by default spawns threads per call; with one
    /// engine per core they only contend (measured: 2 engines gave 16 photos/s, 24 without).
    static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    // @unchecked: `loaded` is read and written only on `queue`.
    let queue: DispatchQueue
    private var loaded: FaceEngine?

    init(queue: DispatchQueue) {
        self.queue = queue
    }

    /// On `queue` only.
    func engine(landmarks: URL, descriptor: URL) throws(FaceImageError) -> FaceEngine {
        if let loaded { return loaded }
        _ = Self.singleThreadedBLAS
        let engine = try FaceEngine(landmarks: landmarks, descriptor: descriptor)
        loaded = engine
        return engine
    }
}

/// dlib's detector, landmarks and ResNet: not thread-safe, so owned by one `Slot`.
final class FaceEngine {
    private let handle: OpaquePointer

    init(landmarks: URL, descriptor: URL) throws(FaceImageError) {
        var error = [CChar](repeating: 0, count: 512)
        guard let handle = enface_engine_create(landmarks.path, descriptor.path, &error, error.count) else {
            throw .unavailable("the face model does not load: \(Self.message(error))")
        }
        self.handle = handle
    }

    deinit {
        enface_engine_destroy(handle)
    }

    /// The C side's NUL-terminated message.
    static func message(_ error: [CChar]) -> String {
        String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func analyze(_ bytes: [UInt8], header: ImageHeader, detectSide: Int, options: ImageOptions) throws(FaceImageError) -> ImageAnalysis {
        var faces = [enface_face](repeating: enface_face(), count: max(options.maxFaces, 1))
        var report = enface_report()
        var error = [CChar](repeating: 0, count: 512)
        let found = bytes.withUnsafeBufferPointer { buffer in
            enface_engine_analyze(
                handle, buffer.baseAddress, buffer.count,
                Int32(header.format == .jpeg ? ENFACE_IMAGE_JPEG.rawValue : ENFACE_IMAGE_PNG.rawValue), Int32(header.orientation),
                Int32(clamping: detectSide), options.minScore, Int32(clamping: options.minFaceSide), options.describe ? 1 : 0,
                &faces, Int32(clamping: faces.count), &report, &error, error.count)
        }
        switch found {
        case ENFACE_INVALID_IMAGE.rawValue: throw .invalidImage(Self.message(error))
        case ..<0: throw .failed(Self.message(error))
        default: break
        }
        let kept = min(Int(found), options.maxFaces)
        var upright = header
        (upright.width, upright.height) = (Int(report.width), Int(report.height))
        return ImageAnalysis(
            header: upright,
            faces: faces.prefix(kept).map { face in
                DetectedFace(
                    left: Int(face.left), top: Int(face.top), right: Int(face.right), bottom: Int(face.bottom),
                    score: Double(face.score),
                    descriptor: options.describe ? withUnsafeBytes(of: face.descriptor) { Array($0.bindMemory(to: Float.self)) } : [])
            },
            queued: .zero,
            decode: .milliseconds(report.decode_ms), detect: .milliseconds(report.detect_ms),
            describe: .milliseconds(report.describe_ms))
    }
}
