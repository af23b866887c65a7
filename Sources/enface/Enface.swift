// The `enface` command: a thin front end over the EnfaceHTTP and Storage libraries.

import ArgumentParser
import EnfaceHTTP

@main
struct Enface: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enface",
        abstract: "Enface, a multi-tenant face-recognition service.",
        discussion: "Configuration comes from ENFACE_* environment variables; see README.md.",
        subcommands: [
            Serve.self, Migrate.self, DatabaseCommand.self, TenantCommand.self, KeyCommand.self, MasterKeyCommand.self, AuditCommand.self,
            OperatorCommand.self, BenchCommand.self, Calibrate.self, ImportCommand.self,
        ])
}

/// A command that cannot do its work because of how things are (a tenant's status, a server
/// that does not answer), not because of how it was called: ArgumentParser prints it as
/// `Error: …` and exits 1, without the usage text a `ValidationError` brings.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
