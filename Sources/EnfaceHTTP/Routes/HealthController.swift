// Liveness and readiness, for load balancers and orchestrators.

import FaceService
import Hummingbird
import Logging
import Synchronization

/// `/healthz`: the process answers. `/readyz`: the database answers and its schema is the one
/// this binary expects; otherwise 503, so traffic goes elsewhere until it is.
struct HealthController: Sendable {
    let database: DatabaseReadiness
    let timeout: Duration
    /// The last answer, reused for a second: however often load balancers (or anyone, since the
    /// route needs no credential) ask, readiness costs at most one database query a second.
    private let checked = LastReadiness()

    init(database: DatabaseReadiness, timeout: Duration) {
        self.database = database
        self.timeout = timeout
    }

    func addRoutes(to router: Router<EnfaceRequestContext>) {
        router.get("/healthz") { _, _ in Status(status: "ok") }
        router.get("/readyz") { _, context in try await ready(context: context) }
    }

    struct Status: ResponseEncodable {
        var status: String
    }

    struct ReadinessFailure: Error {}

    private func ready(context: EnfaceRequestContext) async throws -> Status {
        let result: Result<DatabaseReadiness.State, ReadinessFailure>
        if let recent = checked.value.withLock({ $0 }), ContinuousClock.now - recent.at < .seconds(1) {
            result = recent.state
        } else {
            do {
                result = .success(try await withDeadline(timeout) { try await database.state() })
            } catch {
                context.logger.warning("readiness: database unreachable", metadata: ["error.type": "\(type(of: error))"])
                result = .failure(ReadinessFailure())
            }
            checked.value.withLock { $0 = (.now, result) }
        }
        guard case .success(let state) = result else {
            throw Problem(
                .serviceUnavailable, code: "not_ready", title: "Not ready", detail: "The database does not answer.")
        }
        switch state {
        case .ready:
            return Status(status: "ready")
        case .pending(let versions):
            throw Problem(
                .serviceUnavailable, code: "not_ready", title: "Not ready",
                detail: "Migrations \(versions.map(String.init).joined(separator: ", ")) are not applied yet.")
        case .invalid(let problem):
            throw Problem(.serviceUnavailable, code: "not_ready", title: "Not ready", detail: problem)
        }
    }
}

/// The last readiness answer and when it was given.
final class LastReadiness: Sendable {
    let value = Mutex<(at: ContinuousClock.Instant, state: Result<DatabaseReadiness.State, HealthController.ReadinessFailure>)?>(nil)
}
