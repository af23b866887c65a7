// `enface serve`: start the embedded database if it is the one in use, migrate, listen.

import ArgumentParser
import EnfaceHTTP
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server until SIGTERM or SIGINT (graceful shutdown).")

    func run() async throws {
        let configuration = try EnfaceConfiguration.fromEnvironment()
        let logger = makeLogger(configuration)
        logger.notice("starting", metadata: ["host": "\(configuration.httpHost)", "port": "\(configuration.httpPort)"])
        if configuration.usesEmbeddedDatabase {
            _ = try await DatabaseAdministration(configuration, logger: logger).startEmbedded()
        }
        try await serveUntilStopped(configuration, logger: logger) { onServerRunning in
            try await buildApplication(configuration, logger: logger, onServerRunning: onServerRunning)
        }
    }
}
