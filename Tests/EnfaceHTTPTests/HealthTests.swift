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
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ready"}"#)
            }
        }
    }

    @Test(.emptyScratchDatabase)
    func notReadyUntilMigratedThenReady() async throws {
        let database = try ScratchDatabase.required()
        let app = try await buildApplication(TestConfiguration.make(database: database))
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let problem = try ProblemBody(response)
                #expect(problem.code == "not_ready")
                #expect(problem.detail?.contains("not applied") == true)
            }
            try await Migrator(migrations: Migration.bundled())
                .migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test(.emptyScratchDatabase)
    func migratesBeforeServingWhenAskedTo() async throws {
        let database = try ScratchDatabase.required()
        let app = try await buildApplication(
            TestConfiguration.make(database: database, ["ENFACE_MIGRATE_ON_START": "true"]))
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func notReadyWhenTheDatabaseDoesNotAnswer() async throws {
        let app = try await buildApplication(TestConfiguration.withoutDatabase())
        try await app.test(.router) { client in
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
}
