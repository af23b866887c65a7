// The embedding models Enface knows: one JSON manifest each, in models/.

import Foundation

public struct ModelManifest: Sendable, Codable, Equatable {
    public struct OperatingPoint: Sendable, Codable, Equatable {
        public var falseAcceptRate: Double
        public var threshold: Double
        public var dataset: String?
    }

    public var id: String
    public var name: String
    public var dimension: Int
    public var metric: String
    public var defaultMatchThreshold: Double
    public var thresholdSource: String
    public var operatingPoints: [OperatingPoint]
    public var source: String
    public var licence: String
    /// The in-process extractor that turns photos into this model's embeddings, if any.
    public var extractor: String?
    /// Measured here from labelled photos (`enface calibrate`), for a model with an extractor.
    public var calibration: Calibration?
}

/// The manifests built into the binary.
public struct ModelCatalog: Sendable {
    public let models: [String: ModelManifest]

    public static let defaultModel = "arcface-buffalo-l"

    public init(models: [ModelManifest]) {
        self.models = Dictionary(uniqueKeysWithValues: models.map { ($0.id, $0) })
    }

    public func model(_ id: String) -> ModelManifest? { models[id] }

    /// Every `*.json` of the bundled Models folder (the repository's models/).
    public static func bundled() throws -> ModelCatalog {
        guard let directory = Bundle.module.url(forResource: "Models", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        return ModelCatalog(
            models: try files.sorted().map { file in
                try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: directory.appendingPathComponent(file)))
            })
    }
}
