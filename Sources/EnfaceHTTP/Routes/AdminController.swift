// The operator plane, /admin/v1: tenants, their lifecycle and keys, the audit trail, usage.

import FaceService
import Foundation
import HTTPTypes
import Hummingbird
import Tenancy
import WireFormats

struct AdminController: Sendable {
    let administration: TenantAdministration
    let models: ModelCatalog
    let registry: FaceRegistry
    /// The database roles the service connects as (app, admin), whose attributes the
    /// row-level-security report checks.
    let runtimeRoles: [String]

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.post("/tenants") { request, context in
            let created = try await administration.create(try await request.json(context: context), by: actor(context))
            return EditedResponse(
                status: .created,
                headers: [.cacheControl: "no-store", .location: "/admin/v1/tenants/\(created.tenant.id.lowercasedText)"],
                response: CreatedTenantAnswer(
                    tenant: TenantAnswer(created.tenant, models: models), apiKey: created.key.text,
                    key: .init(id: created.keyID.lowercasedText, prefix: created.key.prefix)))
        }
        group.get("/tenants") { request, context in
            let query = Query(request)
            let limit = try query.limit(default: 100, maximum: 1_000)
            var status: TenantStatus?
            if let text = query["status"] {
                guard let parsed = TenantStatus(rawValue: text) else {
                    throw RequestError.invalidQuery(FieldError(pointer: "?status", code: "invalid_value", detail: "must be pending, active, suspended or deleted"))
                }
                status = parsed
            }
            var cursor: TenantCursor?
            if let text = query["after"] {
                guard let parsed = TenantCursor(token: text) else {
                    throw RequestError.invalidQuery(FieldError(pointer: "?after", code: "invalid_format", detail: "is not a cursor this API gave"))
                }
                cursor = parsed
            }
            let tenants = try await administration.list(status: status, after: cursor, limit: limit + 1)
            return Page(
                "tenants", read: tenants, limit: limit, item: { TenantAnswer($0, models: models) },
                cursor: { TenantCursor(createdAt: $0.createdAt, id: $0.id).token })
        }
        group.get("/tenants/{tenant}") { _, context in
            let reference = context.pathParameter("tenant") ?? ""
            return TenantAnswer(try await administration.tenant(reference), models: models)
        }
        group.patch("/tenants/{tenant}") { request, context -> Response in
            let (id, patch) = (try await tenantID(context), try await request.json(context: context))
            if try Query(request).flag("dryRun") {
                let (before, after) = try await administration.preview(id, patch)
                let effect = try await registry.effect(from: before, to: after)
                return try DryRunAnswer(tenant: TenantAnswer(after, models: models), effect: effect).response(from: request, context: context)
            }
            let tenant = try await administration.update(id, patch, by: actor(context))
            return try TenantAnswer(tenant, models: models).response(from: request, context: context)
        }
        group.post("/tenants/{tenant}/activate") { _, context in
            TenantAnswer(try await administration.activate(try await tenantID(context), by: actor(context)), models: models)
        }
        group.post("/tenants/{tenant}/suspend") { request, context in
            var reader = FieldReader(try await request.json(context: context, empty: [:]), allowed: ["reason"])
            let reason = reader.string("reason", lengths: 1...500)
            try reader.check()
            let tenant = try await administration.suspend(try await tenantID(context), reason: reason, by: actor(context))
            return TenantAnswer(tenant, models: models)
        }
        group.post("/tenants/{tenant}/reactivate") { _, context in
            TenantAnswer(try await administration.reactivate(try await tenantID(context), by: actor(context)), models: models)
        }
        group.delete("/tenants/{tenant}") { _, context in
            TenantAnswer(try await administration.delete(try await tenantID(context), by: actor(context)), models: models)
        }
        group.post("/tenants/{tenant}/keys") { request, context in
            let created = try await administration.createKey(
                tenant: try await tenantID(context), try await request.json(context: context), by: actor(context))
            return EditedResponse(
                status: .created, headers: [.cacheControl: "no-store"],
                response: CreatedKeyAnswer(apiKey: created.secret.text, key: created.key))
        }
        group.get("/tenants/{tenant}/keys") { _, context in
            KeyList(keys: try await administration.keys(tenant: try await tenantID(context)))
        }
        group.delete("/tenants/{tenant}/keys/{key}") { _, context in
            try await administration.revokeKey(
                tenant: try await tenantID(context), key: try context.uuid("key", notFound: .keyNotFound), by: actor(context))
            return HTTPResponse.Status.noContent
        }
        group.get("/tenants/{tenant}/usage") { request, context in
            let query = Query(request)
            let id = try await tenantID(context)
            let to = try query.day("to") ?? UsageMeter.day(Date())
            let from = try query.day("from") ?? UsageMeter.day(Date().addingTimeInterval(-29 * 86_400))
            let days = try await administration.usage(tenant: id, from: from, to: to)
            return UsageDays(tenantId: id.lowercasedText, from: from, to: to, days: days.map(UsageDays.Day.init))
        }
        group.get("/tenants/{tenant}/calibration") { _, context in
            let tenant = try await administration.tenant(context.pathParameter("tenant") ?? "")
            guard tenant.status != .deleted else { throw TenancyError.tenantDeleted }
            let outcome = try await registry.calibration(of: tenant)
            if case .ready = outcome {
                try await administration.recordOperatorRead(tenant.id, action: "tenant.calibration.read", by: actor(context))
            }
            return CalibrationAnswer(outcome: outcome)
        }
        group.get("/models") { _, _ in ModelList(models) }
        group.get("/row-level-security") { _, _ in
            SecurityCatalogAnswer(catalog: try await administration.securityCatalog(runtimeRoles: runtimeRoles))
        }
        group.get("/audit") { request, context in
            let query = Query(request)
            let limit = try query.limit(default: 100, maximum: 1_000)
            var tenant: UUID?
            if let reference = try query.text("tenant") {
                // In a filter, text that cannot name a tenant is a malformed query (422), not a 404.
                guard UUID(uuidString: reference) != nil || Tenant.isValidSlug(reference) else {
                    throw RequestError.invalidQuery(FieldError(pointer: "?tenant", code: "invalid_format", detail: "must be a tenant's id or slug"))
                }
                tenant = try await administration.tenantID(reference)
            }
            var filter = AuditFilter(
                tenantID: tenant, action: try query.text("action"), actor: try query.text("actor"),
                since: try query.date("since"), until: try query.date("until"), limit: limit + 1)
            if let text = query["outcome"] {
                guard let outcome = AuditEvent.Outcome(rawValue: text) else {
                    throw RequestError.invalidQuery(FieldError(pointer: "?outcome", code: "invalid_value", detail: "must be success, denied or failure"))
                }
                filter.outcome = outcome
            }
            if let text = query["before"] {
                guard let before = Int64(text), before > 0 else {
                    throw RequestError.invalidQuery(FieldError(pointer: "?before", code: "invalid_format", detail: "must be an event id"))
                }
                filter.before = before
            }
            let events = try await administration.auditEvents(filter)
            // The next page: events before the last id of this one (`?before=`).
            return Page("events", read: events, limit: limit, item: AuditEventAnswer.init, cursor: { String($0.id) })
        }
    }

    /// The tenant a path names, by id or by slug: an operator types either, on every route.
    func tenantID(_ context: EnfaceRequestContext) async throws -> UUID {
        guard let reference = context.pathParameter("tenant") else { throw TenancyError.tenantNotFound }
        return try await administration.tenantID(reference)
    }

    func actor(_ context: EnfaceRequestContext) throws -> String {
        TenantAdministration.actor(operator: try context.requireOperator())
    }
}
