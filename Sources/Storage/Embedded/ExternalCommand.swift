// Runs the PostgreSQL programs (initdb, pg_ctl) as the account that owns the cluster.

import Foundation

/// A program run to completion, its output captured to a file.
///
/// Spawned with `posix_spawn` and reaped with `waitpid` rather than Foundation's `Process`:
/// `pg_ctl start` leaves a daemon behind, and the daemon inherits the descriptor `Process`
/// watches for the child's exit, so `waitUntilExit()` never returns. Here every descriptor
/// above stderr is closed in the child, and output goes to a file, never a pipe.
struct ExternalCommand {
    var executable: URL
    var arguments: [String]
    /// Run through `runuser -u <account> --` (the caller is root and PostgreSQL refuses root).
    var account: String?

    @discardableResult
    func run() throws -> String {
        let argv: [String] =
            if let account {
                ["/usr/sbin/runuser", "-u", account, "--", executable.path] + arguments
            } else {
                [executable.path] + arguments
            }
        let environment = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "LANG=C"]

        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("enface-\(executable.lastPathComponent)-\(UUID().uuidString).log")
        let outputDescriptor = open(output.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard outputDescriptor >= 0 else {
            throw StorageError.embedded("cannot create \(output.path): \(String(cString: strerror(errno)))")
        }
        defer {
            close(outputDescriptor)
            unlink(output.path)
        }

        let pid = try Spawn.start(argv, environment: environment, output: outputDescriptor)
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 {
            guard errno == EINTR else {
                throw StorageError.embedded("waitpid failed: \(String(cString: strerror(errno)))")
            }
        }
        let text = (try? String(contentsOf: output, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let exitStatus = Spawn.exitStatus(waitStatus).status
        guard exitStatus == 0 else {
            throw StorageError.commandFailed(command: executable.lastPathComponent, status: exitStatus, output: text)
        }
        return text
    }
}
