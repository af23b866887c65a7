// The operator plane without HTTP, composed here as `buildApplication` composes a node: what
// `enface tenant …`, `enface key …`, `enface keys …` and `enface audit …` run, as `enface_admin`
// with this installation's master key, so that the command line holds no pool and no SQL.

import FaceService
import Foundation
import Logging
import Storage
import TemplateProtection
import Tenancy

public struct OperatorServices: Sendable {
    public let configuration: EnfaceConfiguration
    public let administration: TenantAdministration
    public let models: ModelCatalog
    public let masterKey: MasterKey
    let admin: PostgresPool
    let logger: Logger

    /// Runs `body` with an admin pool that lives as long as it does.
    public static func run<Result: Sendable>(
        _ configuration: EnfaceConfiguration, logger: Logger, _ body: (OperatorServices) async throws -> Result
    ) async throws -> Result {
        let pool = PostgresPool(
            endpoint: try configuration.database.endpoint(for: .admin), role: .admin, maximumConnections: 2, logger: logger)
        let masterKey = try MasterKey.load(environment: configuration.masterKey, file: configuration.masterKeyFile)
        let models = try ModelCatalog.bundled()
        let services = OperatorServices(
            configuration: configuration,
            administration: TenantAdministration(
                admin: pool, masterKey: masterKey, models: models, audit: AuditTrail(masterKey: masterKey),
                notices: ChangeNotices(tags: masterKey.noticeTags)),
            models: models, masterKey: masterKey, admin: pool, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            defer { group.cancelAll() }
            return try await body(services)
        }
    }

    /// Re-wraps every tenant key and the audit chain's key under `newKey` (nodes stopped).
    public func rotateMasterKey(to newKey: MasterKey, force: Bool, by actor: String) async throws -> MasterKeyRotation.Report {
        try await MasterKeyRotation(admin: admin).rotate(from: masterKey, to: newKey, force: force, by: actor)
    }

    /// Gives the audit chain a new random key; its version.
    public func rotateAuditKey(force: Bool, by actor: String) async throws -> Int {
        try await AuditKeyRotation(admin: admin, masterKey: masterKey).rotate(force: force, by: actor)
    }

    /// A new key for one tenant, in one transaction as the schema owner.
    public func rekeyTenant(_ tenant: UUID, by actor: String) async throws -> TenantRekey.Report {
        let owner = PostgresPool(
            endpoint: try configuration.database.endpoint(for: .owner), role: .owner, maximumConnections: 1, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await owner.run() }
            defer { group.cancelAll() }
            return try await TenantRekey(owner: owner, masterKey: masterKey, models: models).rekey(tenant, by: actor)
        }
    }
}
