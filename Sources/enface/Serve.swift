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
        if configuration.usesEmbeddedDatabase {
            _ = try await DatabaseAdministration(configuration, logger: logger).startEmbedded()
        }
        let app = try await buildApplication(configuration, logger: logger)
        logger.info("serving", metadata: ["url": "http://\(configuration.httpHost):\(configuration.httpPort)"])
        try await app.runService()
    }
}
