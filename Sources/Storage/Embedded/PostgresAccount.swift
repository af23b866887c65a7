// The unprivileged system account that runs the embedded PostgreSQL when Enface runs as root.

import Foundation

/// PostgreSQL refuses to run as root; when Enface is root, the cluster belongs to this account.
struct PostgresAccount: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t

    static var callerIsRoot: Bool { geteuid() == 0 }

    /// Looks the account up, creating it as a locked system account if it does not exist.
    static func ensure(named name: String) throws -> PostgresAccount {
        if let account = lookup(name) { return account }
        try ExternalCommand(
            executable: URL(fileURLWithPath: "/usr/sbin/useradd"),
            arguments: ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name]
        ).run()
        guard let account = lookup(name) else {
            throw StorageError.embedded("useradd reported success but account '\(name)' does not exist")
        }
        return account
    }

    static func lookup(_ name: String) -> PostgresAccount? {
        guard let entry = getpwnam(name) else { return nil }
        return PostgresAccount(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// Hands a file or directory to the account.
    func own(_ url: URL) throws {
        guard chown(url.path, uid, gid) == 0 else {
            throw StorageError.embedded("cannot chown \(url.path) to \(name): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether the account can reach and use `url` (the installation, the data directory):
    /// a repository under a 0700 home is invisible to it, which would fail obscurely later.
    func canAccess(_ url: URL, writable: Bool) -> Bool {
        let test = ExternalCommand(
            executable: URL(fileURLWithPath: "/usr/bin/test"),
            arguments: [writable ? "-w" : "-r", url.path],
            account: name)
        return (try? test.run()) != nil
    }
}
