// The whole wiring of the server, readable on one screen.

import Hummingbird
import Logging
import ServiceLifecycle
import Storage

/// Builds the Enface application from its configuration: database pools, migrations before
/// the server listens, middleware and routes. Tests build the very same application.
public func buildApplication(
    _ configuration: EnfaceConfiguration, logger: Logger? = nil
) async throws -> some ApplicationProtocol {
    let logger = logger ?? makeLogger(configuration)
    let migrator = Migrator(migrations: try Migration.bundled())
    let appPool = PostgresPool(
        endpoint: try configuration.database.endpoint(for: .app), role: .app,
        maximumConnections: configuration.databasePoolSize, logger: logger)
    let adminPool = PostgresPool(
        endpoint: try configuration.database.endpoint(for: .admin), role: .admin,
        maximumConnections: configuration.databasePoolSize, logger: logger)

    let router = buildRouter(health: HealthController(pool: appPool, migrator: migrator, timeout: .seconds(3)))

    var app = Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "Enface"),
        services: [appPool, adminPool],
        logger: logger)
    if configuration.migrateOnStart {
        let owner = try configuration.database.endpoint(for: .owner)
        app.beforeServerStarts {
            let report = try await migrator.migrate(owner, logger: logger)
            logger.info(
                "schema is current",
                metadata: ["applied": "\(report.applied)", "previously_applied": "\(report.alreadyApplied.count)"])
        }
    }
    return app
}

/// Routes and the middleware every request passes through, outermost first.
func buildRouter(health: HealthController) -> Router<EnfaceRequestContext> {
    let router = Router(context: EnfaceRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ProblemMiddleware())
    health.addRoutes(to: router)
    return router
}

/// JSON lines on standard error at the configured level.
public func makeLogger(_ configuration: EnfaceConfiguration, label: String = "enface") -> Logger {
    var logger = Logger(label: label) { label in
        JSONLogHandler(label: label, logLevel: configuration.logLevel)
    }
    logger.logLevel = configuration.logLevel
    return logger
}
