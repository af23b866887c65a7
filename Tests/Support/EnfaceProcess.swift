// The `enface` binary run as a child process, its output captured to a file that tests poll.

import Foundation

public final class EnfaceProcess: @unchecked Sendable {
    // @unchecked: `process` is only started in init and then read (pid, status); Foundation's
    // Process is thread-safe for those, it just is not annotated.
    public let process: Process
    public let output: URL

    /// The binary next to the test bundle: SwiftPM builds it because the test target depends on it.
    public static let binary: URL = {
        let products = Bundle.main.bundleURL
        for candidate in [products.appendingPathComponent("enface"),
                          products.deletingLastPathComponent().appendingPathComponent("enface")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        return TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/enface")
    }()

    /// Starts `enface arguments…` with this process's environment plus `environment`.
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = TestEnvironment.repositoryRoot
        output = FileManager.default.temporaryDirectory.appendingPathComponent("enface-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
    }

    /// Runs `enface arguments…` to completion and returns its exit status and output.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String) {
        let child = try EnfaceProcess(arguments, environment: environment)
        let status = try await child.waitForExit(timeout: timeout)
        return (status, child.text)
    }

    public var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        try await poll(timeout: timeout, "enface \(process.arguments ?? []) to exit") {
            process.isRunning ? nil : process.terminationStatus
        }
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: output)
    }
}
