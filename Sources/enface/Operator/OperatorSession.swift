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
                throw CommandFailure(error.explanation)
            } catch let failure as ValidationFailure {
                throw CommandFailure(failure.explanation)
            }
        }
    }

    /// Accepts a tenant's id or slug, as the API does.
    func tenantID(_ reference: String) async throws -> UUID {
        try await administration.tenantID(reference)
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
        case .tenantNotFound: "no such tenant (enface tenant list shows every tenant's id and slug)"
        case .keyNotFound: "no such key (enface key list TENANT shows the tenant's keys)"
        case .slugTaken(let slug): "a tenant named \(slug) exists already; choose another --slug"
        case .invalidTransition(let error): error.whatToDo
        case .tenantDeleted: "the tenant is deleted: nothing about it can change any more"
        case .invalid(let failure): failure.explanation
        case .scopesNotGrantable(let scopes): "cannot grant \(scopes.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

extension LifecycleError {
    /// The refusal, and the command that gets there when there is one.
    var whatToDo: String {
        switch (from, to) {
        case (.active, .deleted): "an active tenant is suspended before it is deleted: enface tenant suspend T, then enface tenant delete T"
        case (.pending, .suspended): "a pending tenant is activated before it can be suspended (enface tenant activate T); a pending tenant may also be deleted as it is"
        case (.suspended, .active): "a suspended tenant is reactivated: enface tenant reactivate T"
        case (.pending, .active): "a pending tenant is activated: enface tenant activate T"
        case (.deleted, _): "the tenant is deleted: nothing about it can change any more"
        case _ where from == to: "the tenant is \(from.rawValue) already"
        default: detail
        }
    }
}

extension ValidationFailure {
    /// One line per error: `pointer: detail (code)`.
    var explanation: String {
        errors.map { "\($0.pointer): \($0.detail) (\($0.code))" }.joined(separator: "\n")
    }
}
