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
