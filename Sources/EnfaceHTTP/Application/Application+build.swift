// The whole wiring of the server, readable on one screen.

import FaceImages
import FaceIndex
import FaceService
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Storage
import Tenancy
import TemplateProtection

/// Builds the Enface application from its configuration: database pools, keys, the tenancy
/// services, migrations before the server listens, middleware and routes. Tests build the very
/// same application. `onServerRunning` is told the port once it is bound (the real one when the
/// configuration asks for port 0).
public func buildApplication(
    _ configuration: EnfaceConfiguration, logger: Logger? = nil, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let logger = logger ?? makeLogger(configuration)
    let (router, services, migrator, checkKeys) = try await wire(configuration, logger: logger)
    var app = Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ParseErrorResponder()],
                // A connection that sends nothing (a request head half sent, a body stalled, or no
                // request at all) is closed after this: a slow client cannot hold a socket for ever.
                idleTimeout: .seconds(Int64(configuration.httpIdleTimeout.components.seconds)),
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: ParseErrorResponder.maxHeaderFieldSize,
                    maxHeaderListSize: ParseErrorResponder.maxHeaderListSize, maxHeaderFieldCount: 200))),
        configuration: .init(
            address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "Enface",
            // Hundreds of connections arriving at once (or held open by slow clients while they
            // are) must not overflow the accept queue: a new client's SYN would be dropped and
            // retried seconds later.
            backlog: 4_096),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.httpPort) },
        logger: logger)
    app.beforeServerStarts {
        if configuration.migrateOnStart {
            let report = try await migrator.migrate(try configuration.database.endpoint(for: .owner), logger: logger)
            logger.info(
                "schema is current",
                metadata: ["applied": "\(report.applied)", "previously_applied": "\(report.alreadyApplied.count)"])
        }
        try await checkKeys()
    }
    return app
}

/// Every route the application serves, as `METHOD /path/{parameter}`: what the OpenAPI
/// document must describe. Nothing is started or connected.
public func routeDescriptions(_ configuration: EnfaceConfiguration) async throws -> [String] {
    try await wire(configuration, logger: makeLogger(configuration), methodFallbacks: false).router.routes.map(\.description)
}

/// The pools, keys, use cases, router and background services, wired; nothing started yet.
/// `checkKeys` refuses to serve with a master key that does not open the database's keys.
func wire(
    _ configuration: EnfaceConfiguration, logger: Logger, methodFallbacks: Bool = true
) async throws -> (
    router: Router<EnfaceRequestContext>, services: [any Service], migrator: Migrator,
    checkKeys: @Sendable () async throws -> Void
) {
    let migrator = Migrator(migrations: try Migration.bundled())
    let (appEndpoint, adminEndpoint) = (try configuration.database.endpoint(for: .app), try configuration.database.endpoint(for: .admin))
    let appPool = PostgresPool(
        endpoint: appEndpoint, role: .app,
        maximumConnections: configuration.databasePoolSize, logger: logger)
    let adminPool = PostgresPool(
        endpoint: adminEndpoint, role: .admin,
        maximumConnections: configuration.databasePoolSize, logger: logger)

    let masterKey = try MasterKey.load(environment: configuration.masterKey, file: configuration.masterKeyFile)
    let models = try ModelCatalog.bundled()
    let audit = AuditTrail(masterKey: masterKey)
    let metrics = EnfaceMetrics()
    let usage = UsageMeter(app: appPool, flushInterval: configuration.usageFlushInterval, logger: logger)
    let notices = ChangeNotices(tags: masterKey.noticeTags)
    let background = BackgroundWork(logger: logger)
    let faces = FaceRegistry(
        app: appPool, masterKey: masterKey, notices: notices, models: models, usage: usage, audit: audit,
        memoryBudget: configuration.indexMemoryBudget, metrics: FaceMetrics(factory: metrics.factory), background: background,
        scheduler: ScanScheduler(queuePerTenant: configuration.scanQueuePerTenant), logger: logger)
    metrics.sampleOnScrape { await faces.sampleMetrics() }
    let rateLimiter = RateLimiter<UUID>()
    let photos = FacePhotos(
        pool: FaceEnginePool(
            weights: configuration.modelsDirectory, engines: configuration.imageWorkers, queueLimit: configuration.imageQueue,
            maxPixels: configuration.imageMaxPixels),
        models: models,
        observe: { analysis in
            metrics.imageStages(queued: analysis.queued, decode: analysis.decode, detect: analysis.detect, describe: analysis.describe)
        },
        charge: { tenant, extraFaces in
            rateLimiter.charge(tenant.id, limit: tenant.quotas.requestsPerMinute, tokens: extraFaces)
        })
    if !photos.pool.isAvailable {
        logger.notice("no face model weights: photos will get 503 extractor_unavailable", metadata: ["dir": "\(configuration.modelsDirectory.path)"])
    }
    let administration = TenantAdministration(
        admin: adminPool, masterKey: masterKey, models: models, audit: audit, notices: notices)
    let credentials = CredentialCache(notices: notices, staleLimit: configuration.credentialStaleLimit)
    let authenticator = Authenticator(
        app: appPool, jwt: try await jwtVerifier(configuration), audit: audit, cache: credentials)
    let operatorTokens: OperatorTokens
    do {
        operatorTokens = try OperatorTokens(configuration.adminTokens)
    } catch {
        throw ConfigurationError.invalid(variable: "ENFACE_ADMIN_TOKENS", reason: "each entry must be name:sha256hex")
    }
    if operatorTokens.isEmpty { logger.notice("ENFACE_ADMIN_TOKENS is empty: the operator plane refuses every request") }

    let anonymous = AnonymousLimit(perMinute: configuration.anonymousPerMinute)
    let router = buildRouter(
        health: HealthController(database: DatabaseReadiness(pool: appPool, migrator: migrator), timeout: .seconds(3)),
        metrics: metrics,
        operatorGate: OperatorAuthMiddleware(
            tokens: operatorTokens, metrics: metrics, audit: audit, bodyLimit: configuration.maxBodyBytes,
            anonymous: anonymous),
        tenantGate: TenantAuthMiddleware(
            authenticator: authenticator, rateLimiter: rateLimiter, anonymous: anonymous, usage: usage, metrics: metrics,
            hostSuffix: configuration.tenantHostSuffix),
        admin: AdminController(
            administration: administration, models: models, registry: faces,
            runtimeRoles: [appEndpoint.username, adminEndpoint.username]),
        tenant: TenantController(
            selfService: TenantSelfService(app: appPool, administration: administration, audit: audit), usage: usage,
            models: models, registry: faces),
        faces: FaceController(registry: faces, photos: photos, metrics: metrics), methodFallbacks: methodFallbacks)

    // Shut down in reverse: the server stops first, background work (shard loads and drops) is
    // awaited and the usage meter writes its last batch while the pools still run.
    let services: [any Service] = [
        appPool, adminPool, usage, background,
        PurgeScheduler(administration: administration, interval: configuration.purgeInterval, logger: logger),
        ChangeListener(
            endpoint: appEndpoint, notices: notices, subscribers: [credentials, faces],
            logger: logger),
        AuditRefusals(audit: audit, pool: appPool),
    ]
    let checkKeys: @Sendable () async throws -> Void = {
        do {
            // PostgresNIO's pool keeps a lease waiting for up to a minute while connections
            // fail; the server must not wait that long before it listens.
            _ = try await withDeadline(.seconds(5)) { try await audit.keyring(on: adminPool) }
        } catch KeyError.cannotUnwrap {
            throw ConfigurationError.invalid(
                variable: "ENFACE_MASTER_KEY",
                reason: "the master key \(masterKey.fingerprint) does not open this database's keys; "
                    + "was it rotated (enface keys rotate-master)?")
        } catch {
            // The database may come later; the key is read again on first use.
            logger.warning("could not read the platform keys yet; will on first use", metadata: ["error.type": "\(type(of: error))"])
        }
    }
    return (router, services, migrator, checkKeys)
}

/// Routes and the middleware every request passes through, outermost first.
func buildRouter(
    health: HealthController, metrics: EnfaceMetrics, operatorGate: OperatorAuthMiddleware,
    tenantGate: TenantAuthMiddleware, admin: AdminController, tenant: TenantController, faces: FaceController,
    methodFallbacks: Bool = true
) -> Router<EnfaceRequestContext> {
    let router = Router(context: EnfaceRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware(metrics: metrics))
    router.add(middleware: ProblemMiddleware())
    health.addRoutes(to: router)
    router.get("/openapi.yaml") { _, _ in OpenAPIDocument.response() }
    MetricsController(metrics: metrics).addRoutes(to: router.group().add(middleware: operatorGate))
    admin.addRoutes(to: router.group("admin/v1").add(middleware: operatorGate))
    let v1 = router.group("v1").add(middleware: tenantGate)
    tenant.addRoutes(to: v1)
    faces.addRoutes(to: v1)
    // Last, once every route is known: preflights, and 405 for the methods a path does not answer.
    if methodFallbacks {
        router.addPreflightsAndMethodNotAllowed { request, context in await tenantGate.hostTenantOrigins(request, context: context) }
    }
    return router
}

func jwtVerifier(_ configuration: EnfaceConfiguration) async throws -> JWTVerifier? {
    guard let file = configuration.jwtIssuersFile else { return nil }
    do {
        let issuers = try JSONDecoder().decode(JWTConfiguration.self, from: Data(contentsOf: file))
        return try await JWTVerifier(configuration: issuers, relativeTo: file.deletingLastPathComponent())
    } catch {
        throw ConfigurationError.invalid(variable: "ENFACE_JWT_ISSUERS_FILE", reason: "\(file.path): \(error)")
    }
}

/// JSON lines on standard error at the configured level.
public func makeLogger(_ configuration: EnfaceConfiguration, label: String = "enface") -> Logger {
    var logger = Logger(label: label) { label in
        JSONLogHandler(label: label, logLevel: configuration.logLevel)
    }
    logger.logLevel = configuration.logLevel
    return logger
}
