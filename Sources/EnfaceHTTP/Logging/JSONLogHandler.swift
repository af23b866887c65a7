// Structured logs: one JSON object per line on standard error, ready for any log pipeline.

import Foundation
import Logging
import Synchronization
import Tenancy
import WireFormats

/// Writes `{"ts":…,"level":…,"label":…,"msg":…,"requestId":…, …metadata}` lines.
/// Callers decide what goes into metadata; nothing here inspects or prints request data.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let sink: @Sendable (String) -> Void

    public init(label: String, logLevel: Logger.Level, sink: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.logLevel = logLevel
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = "{\"ts\":\(Self.quote(Date().formatted(Self.timestampStyle)))"
        line += ",\"level\":\(Self.quote(event.level.rawValue))"
        line += ",\"label\":\(Self.quote(label))"
        line += ",\"msg\":\(Self.quote(event.message.description))"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += ",\(Self.quote(Self.renamed[key] ?? key)):\(Self.render(value))"
        }
        line += "}\n"
        sink(line)
    }

    /// Hummingbird names the request id `hb.request.id`; the logs call it what the API does.
    static let renamed = ["hb.request.id": "requestId"]

    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): quote(string)
        case .stringConvertible(let convertible): quote(convertible.description)
        case .array(let values): "[" + values.map(render).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\(render($0.value))" }
                .joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal, escaped as the audit chain's canonical JSON escapes it.
    static func quote(_ string: String) -> String { JSONValue.quote(string) }

    private static let lock = Mutex(())

    /// One `write` per line under a lock, so lines from concurrent requests never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { buffer in
                    write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
