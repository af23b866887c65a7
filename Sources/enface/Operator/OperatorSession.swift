// What the operator commands share: the admin pool, the master key, and how they print.

import ArgumentParser
import EnfaceHTTP
import FaceService
import Foundation
import Logging
import Storage
import TemplateProtection
import Tenancy
import WireFormats

/// The operator plane from the command line: the same use cases as `/admin/v1`, run as
/// `enface_admin` with the master key of this installation, audited as `operator:cli:<user>`.
struct OperatorSession {
    let configuration: EnfaceConfiguration
    let admin: PostgresPool
    let masterKey: MasterKey
    let administration: TenantAdministration
    let models: ModelCatalog
    let actor: String

    /// Runs `body` with an admin pool that lives as long as it does.
    static func run<Result: Sendable>(_ body: (OperatorSession) async throws -> Result) async throws -> Result {
        let configuration = try EnfaceConfiguration.fromEnvironment()
        let logger = makeLogger(configuration)
        let pool = PostgresPool(
            endpoint: try configuration.database.endpoint(for: .admin), role: .admin, maximumConnections: 2, logger: logger)
        let masterKey = try MasterKey.load(environment: configuration.masterKey, file: configuration.masterKeyFile)
        let models = try ModelCatalog.bundled()
        let session = OperatorSession(
            configuration: configuration, admin: pool, masterKey: masterKey,
            administration: TenantAdministration(
                admin: pool, masterKey: masterKey, models: models, audit: AuditTrail(masterKey: masterKey),
                notices: ChangeNotices(tags: masterKey.noticeTags)),
            models: models,
            actor: TenantAdministration.actor(operator: "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown")))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            defer { group.cancelAll() }
            do {
                return try await body(session)
            } catch let error as TenancyError {
                throw ValidationError(error.explanation)
            } catch let failure as ValidationFailure {
                throw ValidationError(failure.explanation)
            }
        }
    }

    /// Accepts a tenant's id or slug, as the API's GET does.
    func tenantID(_ reference: String) async throws -> UUID {
        if let id = UUID(uuidString: reference) { return id }
        return try await administration.tenant(reference).id
    }
}

/// Pretty, stable JSON on standard output: what scripts parse.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

extension TenancyError {
    var explanation: String {
        switch self {
        case .tenantNotFound: "no such tenant"
        case .keyNotFound: "no such key"
        case .slugTaken(let slug): "a tenant named \(slug) exists already"
        case .invalidTransition(let error): error.detail
        case .tenantDeleted: "the tenant is deleted"
        case .invalid(let failure): failure.explanation
        case .scopesNotGrantable(let scopes): "cannot grant \(scopes.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

extension ValidationFailure {
    /// One line per error: `pointer: detail (code)`.
    var explanation: String {
        errors.map { "\($0.pointer): \($0.detail) (\($0.code))" }.joined(separator: "\n")
    }
}
