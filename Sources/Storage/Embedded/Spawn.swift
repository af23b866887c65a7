// Starting a program with posix_spawn: standard input from /dev/null, standard output and error
// into one descriptor, every other descriptor closed in the child. Used for the PostgreSQL
// programs (ExternalCommand) and by the tests' child processes, instead of Foundation's
// `Process` (which cannot wait for `pg_ctl start`, and on Linux over-reads /proc/self/fd:
// swift-corelibs-foundation#5472).

import Foundation

public enum Spawn {
    /// Starts `argv[0]` with `argv` and exactly `environment` ("NAME=value"), in `directory` when
    /// given; its output and errors go to `output`. Returns its pid; reap it with `waitpid`.
    public static func start(_ argv: [String], environment: [String], directory: String? = nil, output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        if let closeFrom { _ = closeFrom(&actions, 3) }
        if let directory, let changeDirectory { _ = changeDirectory(&actions, directory) }
        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environment) { environmentPointers in
                posix_spawn(&pid, argv[0], &actions, nil, argvPointers, environmentPointers)
            }
        }
        guard status == 0 else { throw StorageError.embedded("cannot run \(argv[0]): \(String(cString: strerror(status)))") }
        return pid
    }

    /// A `waitpid` status as an exit status: the status, or 128 + the signal that ended it
    /// (WIFEXITED and its kin are macros Swift cannot import).
    public static func exitStatus(_ waitStatus: Int32) -> (status: Int32, bySignal: Bool) {
        let signal = waitStatus & 0x7f
        return signal == 0 ? ((waitStatus >> 8) & 0xff, false) : (128 + signal, true)
    }

    typealias FileAction = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias DirectoryAction = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34) and `…_addchdir_np` (2.29), which
    /// Swift's Glibc module does not export. Without the first (older libc) only descriptors marked
    /// close-on-exec stay behind, which is every one NIO and Enface open.
    static let closeFrom: FileAction? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: FileAction.self) }
    static let changeDirectory: DirectoryAction? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: DirectoryAction.self) }

    /// Calls `body` with a NULL-terminated C array of the strings.
    static func withCStrings<Result>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result) -> Result {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}
