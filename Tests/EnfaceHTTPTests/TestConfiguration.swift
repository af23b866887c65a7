// The application under test, configured through the same variables as production.

import EnfaceHTTP
import Storage
import TestSupport

enum TestConfiguration {
    /// Enface pointed at `database` as an external server, on a free port, quiet.
    static func make(database: ScratchDatabase, _ extra: [String: String] = [:]) throws -> EnfaceConfiguration {
        try EnfaceConfiguration(
            environment: [
                "ENFACE_DATABASE_URL": database.endpoint(.owner).url,
                "ENFACE_DATABASE_APP_URL": database.endpoint(.app).url,
                "ENFACE_DATABASE_ADMIN_URL": database.endpoint(.admin).url,
                "ENFACE_HTTP_PORT": "0",
                "ENFACE_LOG_LEVEL": "error",
                "ENFACE_MIGRATE_ON_START": "false",
            ].merging(extra) { $1 })
    }

    /// Enface with a database that is never reached: for tests of pure HTTP behaviour.
    static func withoutDatabase() throws -> EnfaceConfiguration {
        let nowhere = "postgresql://nobody:x@/nothing?host=/nonexistent"
        return try EnfaceConfiguration(
            environment: [
                "ENFACE_DATABASE_URL": nowhere, "ENFACE_DATABASE_APP_URL": nowhere, "ENFACE_DATABASE_ADMIN_URL": nowhere,
                "ENFACE_HTTP_PORT": "0", "ENFACE_LOG_LEVEL": "error", "ENFACE_MIGRATE_ON_START": "false",
            ])
    }
}
