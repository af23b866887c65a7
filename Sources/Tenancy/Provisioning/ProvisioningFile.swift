// `enface tenant apply --file tenants.json`: the tenants an operator wants, checked whole.

import Foundation
import WireFormats

/// A tenant as the file declares it. What the file leaves out is nil, and means "as it is" for
/// a tenant that exists (what its administrators set themselves stays), "the default" for one
/// the file creates. Settings and quotas are patches: the fields the file names, nothing else.
public struct DesiredTenant: Sendable, Equatable {
    public var slug: String
    public var name: String
    public var plan: Plan?
    public var model: String?
    /// `deleted` is how a file says, explicitly, that a tenant goes (suspended first if active).
    public var status: TenantStatus?
    public var suspendReason: String?
    public var settings: JSONValue?
    public var quotas: JSONValue?
}

public enum ProvisioningFile {
    /// The schema shipped with Enface (schemas/tenants.schema.json).
    public static func schema() throws -> JSONSchema {
        guard let url = Bundle.module.url(forResource: "Schemas/tenants.schema", withExtension: "json")
            ?? Bundle.module.url(forResource: "tenants.schema", withExtension: "json", subdirectory: "Schemas")
        else { throw CocoaError(.fileNoSuchFile) }
        guard let value = JSONValue.parse(try Data(contentsOf: url)) else { throw CocoaError(.fileReadCorruptFile) }
        return try JSONSchema(value)
    }

    /// The tenants `data` declares, or every error in it (schema first, then meaning).
    public static func parse(_ data: Data, models: ModelCatalog) throws -> [DesiredTenant] {
        guard let document = JSONValue.parse(data) else {
            throw ValidationFailure(pointer: "/", code: "malformed_json", detail: "the file is not JSON")
        }
        let schemaErrors = try schema().errors(document)
        if !schemaErrors.isEmpty { throw ValidationFailure(schemaErrors) }

        guard case .array(let items)? = document.objectValue?["tenants"] else { return [] }
        var tenants: [DesiredTenant] = []
        var errors: [FieldError] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let pointer = "/tenants/\(index)"
            guard case .object(let fields) = item, case .string(let slug)? = fields["slug"],
                  case .string(let name)? = fields["name"]
            else { continue }
            if let first = seen[slug] {
                errors.append(FieldError(pointer: pointer + "/slug", code: "duplicate", detail: "\(slug) is also declared at /tenants/\(first)"))
                continue
            }
            seen[slug] = index
            var plan: Plan?
            if case .string(let text)? = fields["plan"] { plan = Plan(rawValue: text) }
            var model: String?
            if case .string(let text)? = fields["model"] {
                model = text
                if models.model(text) == nil {
                    errors.append(FieldError(pointer: pointer + "/model", code: "invalid_value", detail: "no model named \(text)"))
                }
            }
            var status: TenantStatus?
            if case .string(let text)? = fields["status"] { status = TenantStatus(rawValue: text) }
            var suspendReason: String?
            if case .string(let text)? = fields["suspendReason"] { suspendReason = text }
            // Checked now against the defaults, so every error of the file is reported at once;
            // applied later to the tenant as it is.
            do {
                if let patch = fields["settings"] { _ = try TenantSettings().applying(patch, pointer: pointer + "/settings") }
            } catch { errors += error.errors }
            do {
                if let patch = fields["quotas"] { _ = try (plan ?? .starter).defaultQuotas.applying(patch, pointer: pointer + "/quotas") }
            } catch { errors += error.errors }
            tenants.append(
                DesiredTenant(
                    slug: slug, name: name, plan: plan, model: model, status: status, suspendReason: suspendReason,
                    settings: fields["settings"], quotas: fields["quotas"]))
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        return tenants
    }
}
