// `enface audit verify`: walk every tenant's audit chain and name the first broken link.

import ArgumentParser
import FaceService

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the audit trail.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every event's keyed hash and link; exit 1 naming the first event that fails.")

        func run() async throws {
            let result = try await OperatorSession.run { session in try await session.administration.verifyAudit() }
            if let broken = result.firstBreak {
                print("BROKEN: \(broken)")
                throw ExitCode(1)
            }
            print("ok: \(result.events) events in \(result.tenants) chains")
        }
    }
}
