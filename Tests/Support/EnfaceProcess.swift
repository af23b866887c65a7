// The `enface` binary run as a child process, its output captured to a file that tests poll.

import Foundation

public final class EnfaceProcess: Sendable {
    public let process: ChildProcess
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
        output = FileManager.default.temporaryDirectory.appendingPathComponent("enface-\(UUID().uuidString).out")
        process = try ChildProcess(
            Self.binary, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            directory: TestEnvironment.repositoryRoot, output: output)
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
        try await process.waitForExit(timeout: timeout)
    }

    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    deinit {
        process.signal(SIGTERM)
        try? FileManager.default.removeItem(at: output)
    }
}
