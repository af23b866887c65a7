// A program run as a child of the test process, with posix_spawn rather than Foundation's
// `Process`: on Linux, `Process.run()` reads /proc/self/fd with a 256-byte over-read of each
// entry (swift-corelibs-foundation#5472, in Swift 6.3.1), which crashed the whole suite once here
// while another test held 400 sockets open. Output goes to a file, never a pipe.

import Foundation
import Synchronization

public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let arguments: [String]
    /// nil while it runs; then its exit status, or 128 + the signal that ended it.
    private let ended = Mutex<(status: Int32, bySignal: Bool)?>(nil)

    /// Starts `executable arguments…` with exactly `environment`, in `directory`, its standard
    /// output and error written to `output` (standard input: /dev/null).
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String], directory: URL? = nil, output: URL
    ) throws {
        self.arguments = arguments
        let descriptor = open(output.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ChildProcessError("cannot open \(output.path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, descriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, descriptor, 2)
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }
        if let directory, let changeDirectory = Self.changeDirectory { _ = changeDirectory(&actions, directory.path) }
        let argv = [executable.path] + arguments
        let environ = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = Self.withCStrings(argv) { argvPointers in
            Self.withCStrings(environ) { environPointers in
                posix_spawn(&pid, executable.path, &actions, nil, argvPointers, environPointers)
            }
        }
        guard status == 0 else { throw ChildProcessError("cannot run \(executable.path): \(String(cString: strerror(status)))") }
        self.pid = pid
    }

    /// Whether it still runs (reaps it once it has ended).
    public var isRunning: Bool {
        ended.withLock { ended in
            guard ended == nil else { return false }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            guard reaped == pid else { return reaped == 0 }
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
            let signal = status & 0x7f
            ended = signal == 0 ? ((status >> 8) & 0xff, false) : (128 + signal, true)
            return false
        }
    }

    /// Its exit status once it has ended (128 + the signal, if a signal ended it).
    public var terminationStatus: Int32? { isRunning ? nil : ended.withLock { $0?.status } }
    public var endedBySignal: Bool { ended.withLock { $0?.bySignal ?? false } }

    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits (polling, with a deadline) for it to end; its exit status.
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        try await poll(timeout: timeout, "\(arguments) to exit") { terminationStatus }
    }

    /// Runs `executable arguments…` to its end; its exit status and output.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let child = try ChildProcess(executable, arguments, environment: environment, output: output)
        let status = try await child.waitForExit(timeout: timeout)
        return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    deinit {
        // Reaped if it has ended; one still running is left to end on its own (its owner signals
        // it, as `enface serve` must shut down gracefully).
        _ = isRunning
    }

    typealias FileAction = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias DirectoryAction = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34) and `…_addchdir_np` (2.29), which
    /// Swift's Glibc module does not export.
    static let closeFrom: FileAction? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: FileAction.self) }
    static let changeDirectory: DirectoryAction? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: DirectoryAction.self) }

    static func withCStrings<Result>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result) -> Result {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
