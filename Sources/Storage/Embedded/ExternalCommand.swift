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

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 2)
        if let closeFrom = Self.closeFrom {
            _ = closeFrom(&actions, 3)
        }

        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environment) { environmentPointers in
                posix_spawn(&pid, argv[0], &actions, nil, argvPointers, environmentPointers)
            }
        }
        guard status == 0 else {
            throw StorageError.embedded("cannot run \(argv[0]): \(String(cString: strerror(status)))")
        }
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 {
            guard errno == EINTR else {
                throw StorageError.embedded("waitpid failed: \(String(cString: strerror(errno)))")
            }
        }
        let text = (try? String(contentsOf: output, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        // Exited normally with status 0; WIFEXITED/WEXITSTATUS are macros Swift cannot import.
        let exitStatus = (waitStatus & 0x7f) == 0 ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
        guard exitStatus == 0 else {
            throw StorageError.commandFailed(command: executable.lastPathComponent, status: exitStatus, output: text)
        }
        return text
    }
}

extension ExternalCommand {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    /// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does
    /// not export. Without it (older libc) only descriptors marked close-on-exec stay behind,
    /// which is every one NIO and this file open; the output capture above still works.
    static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<Result>(
    _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result
) -> Result {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
