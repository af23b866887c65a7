// Liveness and readiness as a load balancer sees them.

import EnfaceHTTP
import Foundation
import HummingbirdTesting
import Storage
import TestSupport
import Testing

@Suite struct HealthTests {
    @Test(.scratchDatabase)
    func healthAndReadinessAnswerWhenTheSchemaIsCurrent() async throws {
        let app = try await buildApplication(TestConfiguration.make(database: ScratchDatabase.required()))
        try await app.test(.router, heldTo: .served) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
            // The pool connects on first use; a loaded machine may take longer than /readyz waits.
            let ready = try await eventuallyReady(client)
            #expect(String(buffer: ready.body) == #"{"status":"ready"}"#)
        }
    }

    @Test(.emptyScratchDatabase)
    func notReadyUntilMigratedThenReady() async throws {
        let database = try ScratchDatabase.required()
        let app = try await buildApplication(TestConfiguration.make(database: database))
        try await app.test(.router, heldTo: .served) { client in
            // Not ready, and for the right reason once the database answers in time.
            let problem = try await poll(timeout: .seconds(60), interval: .milliseconds(100), "/readyz to see the schema") {
                let response = try await client.execute(uri: "/readyz", method: .get)
                #expect(response.status == .serviceUnavailable)
                let problem = try ProblemBody(response)
                return problem.detail?.contains("not applied") == true ? problem : nil
            }
            #expect(problem.code == "not_ready")
            try await Migrator(migrations: Migration.bundled())
                .migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
            _ = try await eventuallyReady(client)
        }
    }

    @Test(.emptyScratchDatabase)
    func migratesBeforeServingWhenAskedTo() async throws {
        let database = try ScratchDatabase.required()
        let app = try await buildApplication(
            TestConfiguration.make(database: database, ["ENFACE_MIGRATE_ON_START": "true"]))
        try await app.test(.router, heldTo: .served) { client in
            _ = try await eventuallyReady(client)
        }
    }

    @Test func notReadyWhenTheDatabaseDoesNotAnswer() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router, heldTo: .served) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let problem = try ProblemBody(response)
                #expect(problem.code == "not_ready")
            }
        }
    }

    /// Polls /readyz until it answers 200, for up to a minute.
    @discardableResult
    func eventuallyReady(_ client: some TestClientProtocol) async throws -> TestResponse {
        try await poll(timeout: .seconds(60), interval: .milliseconds(100), "/readyz to answer 200") {
            let response = try await client.execute(uri: "/readyz", method: .get)
            return response.status == .ok ? response : nil
        }
    }
}
