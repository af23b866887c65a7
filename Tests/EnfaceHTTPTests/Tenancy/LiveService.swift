// Enface running for real on 127.0.0.1 against a scratch database, spoken to with the tests' one
// client (`EnfaceClient`).

import EnfaceHTTP
import HummingbirdTesting
import TestSupport

enum LiveService {
    /// Runs Enface (the same `buildApplication` as `enface serve`) on 127.0.0.1 for the length
    /// of `body`, against the enclosing suite's scratch database.
    static func run(_ environment: [String: String] = [:], _ body: @Sendable (EnfaceClient) async throws -> Void) async throws {
        let app = try await buildApplication(TestConfiguration.make(database: ScratchDatabase.required(), environment))
        try await app.test(.live) { client in
            try await body(EnfaceClient(client, operatorToken: TestConfiguration.operatorToken))
        }
    }
}
