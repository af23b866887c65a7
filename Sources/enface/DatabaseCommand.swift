// `enface db …`: run the embedded PostgreSQL and say how to reach it.

import ArgumentParser
import EnfaceHTTP
import Foundation
import Storage

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the embedded PostgreSQL 18 + pgvector.",
        subcommands: [Start.self, Stop.self, Status.self, URLCommand.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Initialise (first time), start and bootstrap the embedded database; idempotent.")

        func run() async throws {
            let configuration = try EnfaceConfiguration.fromEnvironment()
            let postgres = try embedded(configuration)
            let outcome = try await postgres.start(logger: makeLogger(configuration))
            print(outcome == .started ? "PostgreSQL started" : "PostgreSQL already running",
                  "(socket in \(postgres.socketDirectory.path))")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded database; idempotent.")

        func run() async throws {
            let postgres = try embedded(try EnfaceConfiguration.fromEnvironment())
            print(try postgres.stop() ? "PostgreSQL stopped" : "PostgreSQL was not running")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether the embedded database runs; exit status 3 when it does not.")

        func run() async throws {
            let postgres = try embedded(try EnfaceConfiguration.fromEnvironment())
            let status = try postgres.status()
            if let pid = status.pid {
                print("running (pid \(pid), data \(postgres.clusterDirectory.path))")
            } else {
                print(status.initialized ? "stopped" : "not initialised (run `enface db start`)")
                throw ExitCode(3)
            }
        }
    }

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the libpq URL of a role, password included, and nothing else.")

        @Option(help: "owner, app or admin.")
        var role: DatabaseRole = .app

        func run() async throws {
            let configuration = try EnfaceConfiguration.fromEnvironment()
            print(try configuration.database.endpoint(for: role).url)
        }
    }
}

private func embedded(_ configuration: EnfaceConfiguration) throws -> EmbeddedPostgres {
    guard case .embedded(let postgres) = configuration.database else {
        throw ValidationError("ENFACE_DATABASE_URL is set: the external database is in use, not the embedded one")
    }
    return postgres
}

extension DatabaseRole: ExpressibleByArgument {}
