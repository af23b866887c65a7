// The application under test, configured through the same variables as production.

import EnfaceHTTP
import Storage
import Tenancy
import TemplateProtection
import TestSupport

enum TestConfiguration {
    /// The operator token the tests present, and its configured hash.
    static let operatorToken = "test-operator-token-0123456789abcdef"
    static let adminTokens = OperatorTokens.configurationLine(name: "tester", token: operatorToken)
    /// A master key for the whole test run (never the developer's key file).
    static let masterKey = MasterKey.generate().base64

    /// Enface pointed at `database` as an external server, on a free port, quiet.
    static func make(database: ScratchDatabase, _ extra: [String: String] = [:]) throws -> EnfaceConfiguration {
        try EnfaceConfiguration(
            environment: database.environment.merging([
                "ENFACE_HTTP_PORT": "0",
                "ENFACE_LOG_LEVEL": "error",
                "ENFACE_MIGRATE_ON_START": "false",
                "ENFACE_MASTER_KEY": masterKey,
                "ENFACE_ADMIN_TOKENS": adminTokens,
                // Suites run in parallel against one PostgreSQL: keep each server's share small.
                "ENFACE_DATABASE_POOL_SIZE": "8",
                // Some 80 servers and their clients share two cores in this process: a client's
                // task has waited over 30 s for a thread between opening its connection and
                // writing its request, and the server rightly closed the idle connection ("I/O on
                // closed channel"). ConnectionLimitsTests tests the timeout itself, at 3 s.
                "ENFACE_HTTP_IDLE_TIMEOUT_SECONDS": "600",
            ]) { $1 }.merging(extra) { $1 })
    }

    /// Enface with a database that is never reached: for tests of pure HTTP behaviour.
    static func withoutDatabase() throws -> EnfaceConfiguration {
        let nowhere = "postgresql://nobody:x@/nothing?host=/nonexistent"
        return try EnfaceConfiguration(
            environment: [
                "ENFACE_DATABASE_URL": nowhere, "ENFACE_DATABASE_APP_URL": nowhere, "ENFACE_DATABASE_ADMIN_URL": nowhere,
                "ENFACE_HTTP_PORT": "0", "ENFACE_LOG_LEVEL": "error", "ENFACE_MIGRATE_ON_START": "false",
                "ENFACE_MASTER_KEY": masterKey, "ENFACE_ADMIN_TOKENS": adminTokens,
            ])
    }
}
