// From a photo to the faces in it, each with its embedding, for tenants whose model has an
// in-process extractor. Photos are never stored: only the templates made from them are.

import FaceImages
import Foundation
import Tenancy

public struct FacePhotos: Sendable {
    public let pool: FaceEnginePool
    let models: ModelCatalog
    /// Told of every completed analysis (for metrics).
    let observe: @Sendable (ImageAnalysis) -> Void
    /// Charges a photo's extra faces (each beyond the first) to the tenant's rate limit: a photo
    /// of ten faces costs the engines ten descriptor passes, and the tenant ten requests.
    let charge: @Sendable (_ tenant: Tenant, _ extraFaces: Int) -> Void

    /// The extractor `FaceEnginePool` implements, as model manifests name it.
    public static let extractor = "dlib"

    public init(
        pool: FaceEnginePool, models: ModelCatalog, observe: @escaping @Sendable (ImageAnalysis) -> Void = { _ in },
        charge: @escaping @Sendable (Tenant, Int) -> Void = { _, _ in }
    ) {
        self.pool = pool
        self.models = models
        self.observe = observe
        self.charge = charge
    }

    /// A face found in a photo, with the embedding of the tenant's model.
    public struct Face: Sendable {
        public var box: FaceBox
        public var embedding: [Float]
    }

    /// Every face in `image` that passes the tenant's detection score and size, best first: at
    /// least one, for a photo without one is `FaceError.noFace`. Refusals are `FaceError`s; an
    /// engine that fails on a photo it decoded throws its own `FaceImageError.failed`, which is
    /// a fault of the server, not of the photo.
    public func faces(in image: [UInt8], tenant: Tenant) async throws -> [Face] {
        guard let manifest = models.model(tenant.model), manifest.extractor == Self.extractor else {
            throw FaceError.modelHasNoExtractor(tenant.model)
        }
        let analysis: ImageAnalysis
        do {
            analysis = try await pool.analyze(
                image,
                options: ImageOptions(
                    minScore: tenant.settings.minDetectionScore, minFaceSide: tenant.settings.minFaceSize,
                    maxFaces: tenant.settings.maxFacesPerPhoto),
                client: tenant.id)
        } catch {
            switch error {
            case .invalidImage(let why): throw FaceError.invalidImage(why)
            case .tooManyPixels(let width, let height, let limit):
                throw FaceError.imageDimensionsTooLarge(width: width, height: height, limit: limit)
            case .busy: throw FaceError.extractorBusy
            case .unavailable: throw FaceError.extractorUnavailable
            case .failed: throw error
            }
        }
        observe(analysis)
        charge(tenant, max(0, analysis.faces.count - 1))
        guard !analysis.faces.isEmpty else { throw FaceError.noFace }
        return analysis.faces.map(Self.face)
    }

    /// The one face of a photo to enroll: none or several are refused, with the boxes found.
    public func singleFace(in image: [UInt8], tenant: Tenant) async throws -> Face {
        let faces = try await faces(in: image, tenant: tenant)
        guard faces.count == 1 else { throw FaceError.multipleFaces(faces.map(\.box)) }
        return faces[0]
    }

    static func face(_ detected: DetectedFace) -> Face {
        Face(
            box: FaceBox(
                left: detected.left, top: detected.top, right: detected.right, bottom: detected.bottom,
                detectionScore: detected.score),
            embedding: detected.descriptor)
    }
}
