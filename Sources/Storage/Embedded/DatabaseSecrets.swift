// The generated passwords of the embedded cluster, kept in one 0600 file.

import Crypto
import Foundation

/// The passwords of the embedded cluster's superuser and of Enface's three roles.
/// Generated once, stored with mode 0600, never printed by `description`.
struct DatabaseSecrets: Codable, Sendable, CustomStringConvertible {
    var superuser: String
    var owner: String
    var app: String
    var admin: String

    static func generate() -> DatabaseSecrets {
        DatabaseSecrets(superuser: randomPassword(), owner: randomPassword(), app: randomPassword(), admin: randomPassword())
    }

    func password(for role: DatabaseRole) -> String {
        switch role {
        case .owner: owner
        case .app: app
        case .admin: admin
        }
    }

    var description: String { "DatabaseSecrets(redacted)" }

    /// Reads the file, or creates it (0600, in a 0700 directory) when it does not exist yet.
    static func loadOrCreate(at file: URL) throws -> DatabaseSecrets {
        if let existing = try load(from: file) { return existing }
        let secrets = generate()
        let directory = file.deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(secrets)
        // Create with 0600 before writing, so the passwords are never readable by others.
        let temporary = directory.appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString)")
        guard FileManager.default.createFile(
            atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600])
        else {
            throw StorageError.embedded("cannot write \(temporary.path)")
        }
        if rename(temporary.path, file.path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            throw StorageError.embedded("cannot create \(file.path): \(String(cString: strerror(errno)))")
        }
        return secrets
    }

    static func load(from file: URL) throws -> DatabaseSecrets? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        do {
            return try JSONDecoder().decode(DatabaseSecrets.self, from: Data(contentsOf: file))
        } catch {
            throw StorageError.embedded("cannot read \(file.path): \(error)")
        }
    }

    /// 256 random bits as hex: URL-safe and SQL-literal-safe without escaping.
    private static func randomPassword() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { bytes in
            bytes.map { String(format: "%02x", $0) }.joined()
        }
    }
}
