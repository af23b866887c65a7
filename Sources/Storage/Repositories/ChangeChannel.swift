// The channel nodes wake each other on: a tag on commit, never data.

import Logging
import PostgresNIO

public enum ChangeChannel {
    /// Renamed from `enface_faces` when notices stopped carrying ids: a node of an older version
    /// listening there hears nothing it could misread.
    public static let name = "enface_changes"

    /// Announces `tag` when the caller's transaction commits (NOTIFY is transactional, and
    /// repeats of one tag in one transaction are sent once).
    public static func announce(_ tag: String, on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query("SELECT pg_notify(\(name), \(tag))", logger: logger).collect()
    }
}
