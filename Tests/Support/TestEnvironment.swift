// Where the tests find the database: the same rules as `enface` itself, read from the same
// environment variables, so `make test` and a developer's `swift test` agree.

import Foundation
import Logging
import Storage

public enum TestEnvironment {
    /// The repository checkout the tests were built from.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let environment = ProcessInfo.processInfo.environment

    /// ENFACE_DATA_DIR, relative paths taken from the repository root.
    public static let dataDirectory: URL = {
        let path = environment["ENFACE_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".data"
        return URL(fileURLWithPath: path, relativeTo: repositoryRoot).standardizedFileURL
    }()

    public static let embeddedPostgres = EmbeddedPostgres(
        options: .init(
            dataDirectory: dataDirectory,
            installation: environment["ENFACE_POSTGRES_DIR"].map { URL(fileURLWithPath: $0) },
            virtualEnvironment: URL(fileURLWithPath: environment["ENFACE_VENV"] ?? ".venv", relativeTo: repositoryRoot),
            port: environment["ENFACE_POSTGRES_PORT"].flatMap(Int.init) ?? 5432))

    /// The server under test: external when ENFACE_DATABASE_URL is set, else the embedded one.
    public static let server: DatabaseServer = {
        if let owner = environment["ENFACE_DATABASE_URL"], !owner.isEmpty {
            do {
                return .external(
                    owner: try DatabaseEndpoint(url: owner),
                    app: try DatabaseEndpoint(url: environment["ENFACE_DATABASE_APP_URL"] ?? ""),
                    admin: try DatabaseEndpoint(url: environment["ENFACE_DATABASE_ADMIN_URL"] ?? ""))
            } catch {
                fatalError("ENFACE_DATABASE_URL is set but the role URLs are not usable: \(error)")
            }
        }
        return .embedded(embeddedPostgres)
    }()

    /// Test logs: warnings and worse, as JSON-free plain lines on stderr.
    public static let logger: Logger = {
        var logger = Logger(label: "enface-tests")
        logger.logLevel = .error
        return logger
    }()

    /// The endpoint of `role` on the server under test, or a failure that says what to do.
    public static func endpoint(for role: DatabaseRole) throws -> DatabaseEndpoint {
        do {
            return try server.endpoint(for: role)
        } catch {
            throw TestEnvironmentError(
                "the test database is not set up (\(error)); run `make test`, or `make setup && .build/debug/enface db start`")
        }
    }
}

public struct TestEnvironmentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
