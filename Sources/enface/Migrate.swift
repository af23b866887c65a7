// `enface migrate`: apply pending migrations, or report the schema's state.

import ArgumentParser
import EnfaceHTTP

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations as the schema owner.")

    @Flag(help: "Only report whether the schema is current; change nothing.")
    var check = false

    func run() async throws {
        let configuration = try EnfaceConfiguration.fromEnvironment()
        let logger = makeLogger(configuration)
        let database = DatabaseAdministration(configuration, logger: logger)
        do {
            if check {
                let (pending, known) = try await database.pendingMigrations()
                guard pending.isEmpty else {
                    print("pending migrations: \(pending.map(String.init).joined(separator: ", "))")
                    throw ExitCode(1)
                }
                print("schema is current (\(known) migrations)")
                return
            }
            let applied = try await database.migrate()
            print(
                applied.isEmpty
                    ? "schema is current; nothing to apply" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
        } catch let refusal as DatabaseAdministration.Refusal {
            throw CommandFailure(refusal.description)
        }
    }
}
