// Liveness and readiness, for load balancers and orchestrators.

import Hummingbird
import Logging
import Storage

/// `/healthz`: the process answers. `/readyz`: the database answers and its schema is the one
/// this binary expects; otherwise 503, so traffic goes elsewhere until it is.
struct HealthController: Sendable {
    let pool: PostgresPool
    let migrator: Migrator
    let timeout: Duration

    func addRoutes(to router: Router<EnfaceRequestContext>) {
        router.get("/healthz") { _, _ in Status(status: "ok") }
        router.get("/readyz") { _, context in try await ready(context: context) }
    }

    struct Status: ResponseEncodable {
        var status: String
    }

    private func ready(context: EnfaceRequestContext) async throws -> Status {
        let state: Migrator.State
        do {
            state = try await withDeadline(timeout) { try await migrator.state(using: pool) }
        } catch {
            context.logger.warning("readiness: database unreachable", metadata: ["error.type": "\(type(of: error))"])
            throw Problem(
                .serviceUnavailable, code: "not_ready", title: "Not ready", detail: "The database does not answer.")
        }
        switch state {
        case .current:
            return Status(status: "ready")
        case .pending(let versions):
            throw Problem(
                .serviceUnavailable, code: "not_ready", title: "Not ready",
                detail: "Migrations \(versions.map(String.init).joined(separator: ", ")) are not applied yet.")
        case .invalid(let problem):
            throw Problem(.serviceUnavailable, code: "not_ready", title: "Not ready", detail: problem.description)
        }
    }
}
