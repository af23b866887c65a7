// `enface migrate`: apply pending migrations, or report the schema's state.

import ArgumentParser
import EnfaceHTTP
import Storage

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations as the schema owner.")

    @Flag(help: "Only report whether the schema is current; change nothing.")
    var check = false

    func run() async throws {
        let configuration = try EnfaceConfiguration.fromEnvironment()
        let logger = makeLogger(configuration)
        let migrator = Migrator(migrations: try Migration.bundled())
        let owner = try configuration.database.endpoint(for: .owner)
        if check {
            let state = try await migrator.state(owner, logger: logger)
            switch state {
            case .current: print("schema is current (\(migrator.migrations.count) migrations)")
            case .pending(let versions): print("pending migrations: \(versions.map(String.init).joined(separator: ", "))")
            case .invalid(let problem): throw ValidationError(problem.description)
            }
            if state != .current { throw ExitCode(1) }
            return
        }
        let report = try await migrator.migrate(owner, logger: logger)
        print(
            report.applied.isEmpty
                ? "schema is current; nothing to apply"
                : "applied migrations: \(report.applied.map(String.init).joined(separator: ", "))")
    }
}
