// A program run as a child of the test process, with posix_spawn rather than Foundation's
// `Process`: on Linux, `Process.run()` reads /proc/self/fd with a 256-byte over-read of each
// entry (swift-corelibs-foundation#5472, in Swift 6.3.1), which crashed the whole suite once here
// while another test held 400 sockets open. Output goes to a file, never a pipe.

import Foundation
import Storage
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
        pid = try Spawn.start(
            [executable.path] + arguments, environment: environment.map { "\($0.key)=\($0.value)" }, directory: directory?.path,
            output: descriptor)
    }

    /// Whether it still runs (reaps it once it has ended).
    public var isRunning: Bool {
        ended.withLock { ended in
            guard ended == nil else { return false }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            guard reaped == pid else { return reaped == 0 }
            ended = Spawn.exitStatus(status)
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
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
