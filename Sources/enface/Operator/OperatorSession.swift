// What the operator commands share: the operator services the composition root makes, who is
// acting, and how they print.

import ArgumentParser
import EnfaceHTTP
import FaceService
import Foundation
import Tenancy
import WireFormats

/// The operator plane from the command line: the same use cases as `/admin/v1`, run as
/// `enface_admin` with the master key of this installation, audited as `operator:cli:<user>`.
struct OperatorSession {
    let services: OperatorServices
    let actor: String

    var configuration: EnfaceConfiguration { services.configuration }
    var administration: TenantAdministration { services.administration }
    var models: ModelCatalog { services.models }

    /// Runs `body` with the operator services, for as long as it runs.
    static func run<Result: Sendable>(_ body: (OperatorSession) async throws -> Result) async throws -> Result {
        let configuration = try EnfaceConfiguration.fromEnvironment()
        let actor = TenantAdministration.actor(operator: "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown"))
        return try await OperatorServices.run(configuration, logger: makeLogger(configuration)) { services in
            do {
                return try await body(OperatorSession(services: services, actor: actor))
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
