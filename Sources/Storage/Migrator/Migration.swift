// One schema migration: a plain SQL file named NNNN_name.sql, identified by its number and
// pinned by the SHA-256 of its bytes.

import Crypto
import Foundation

public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// Lower-case hex SHA-256 of the file's bytes.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Every `NNNN_name.sql` in `directory`, in order. Anything else ending in `.sql` is an
    /// error rather than silently skipped, and so are two files with one number.
    public static func load(from directory: URL) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .unreadable(directory.path)
        }
        var migrations: [Migration] = []
        for file in names.sorted() where file.hasSuffix(".sql") {
            guard let match = file.wholeMatch(of: /(\d{4})_([a-z0-9_]+)\.sql/), let version = Int(match.1) else {
                throw .badFileName(file)
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                throw .unreadable(file)
            }
            if migrations.contains(where: { $0.version == version }) {
                throw .duplicateVersion(version)
            }
            migrations.append(Migration(version: version, name: String(match.2), sql: sql))
        }
        return migrations
    }

    /// The migrations built into the binary (the repository's `migrations/` folder).
    public static func bundled() throws(MigrationError) -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw .unreadable("the bundled migrations")
        }
        return try load(from: directory)
    }
}
