// `enface db …`: run the embedded PostgreSQL and say how to reach it.

import ArgumentParser
import EnfaceHTTP
import Foundation

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the embedded PostgreSQL 18 + pgvector.",
        subcommands: [Start.self, Stop.self, Status.self, URLCommand.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Initialise (first time), start and bootstrap the embedded database; idempotent.")

        func run() async throws {
            let (started, socket) = try await refusalsExplained { try await database().startEmbedded() }
            print(started ? "PostgreSQL started" : "PostgreSQL already running", "(socket in \(socket))")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded database; idempotent.")

        func run() async throws {
            print(try await refusalsExplained { try database().stopEmbedded() } ? "PostgreSQL stopped" : "PostgreSQL was not running")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether the embedded database runs; exit status 3 when it does not.")

        func run() async throws {
            let status = try await refusalsExplained { try database().embeddedStatus() }
            if let pid = status.pid {
                print("running (pid \(pid), data \(status.dataDirectory))")
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
        var role = "app"

        func run() async throws {
            print(try await refusalsExplained { try database().url(role: role) })
        }
    }
}

private func database() throws -> DatabaseAdministration {
    let configuration = try EnfaceConfiguration.fromEnvironment()
    return DatabaseAdministration(configuration, logger: makeLogger(configuration))
}

/// A refusal (the external database is in use, an unknown role) said plainly, not as a crash report.
private func refusalsExplained<Value>(_ body: () async throws -> Value) async throws -> Value {
    do {
        return try await body()
    } catch let refusal as DatabaseAdministration.Refusal {
        throw CommandFailure(refusal.description)
    }
}
