// Tenant self-service, /v1: the caller's own tenant and keys (scope tenant:admin).

import FaceService
import Foundation
import HTTPTypes
import Hummingbird
import Tenancy
import WireFormats

struct TenantController: Sendable {
    let selfService: TenantSelfService
    let usage: UsageMeter
    let models: ModelCatalog

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.get("/tenant") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            let today = usage.today(tenant.tenantID) ?? UsageCounts()
            return [
                "tenant": try Representation.tenant(tenant.tenant, models: models),
                "usage": [
                    "today": Representation.usage(today),
                    "requestsPerDay": .number(Double(tenant.tenant.quotas.requestsPerDay)),
                    "requestsRemainingToday": .number(Double(max(0, Int64(tenant.tenant.quotas.requestsPerDay) - today.requests))),
                ],
                "selfService": [
                    "settings": .array(tenant.tenant.plan.selfServiceSettings.sorted().map(JSONValue.string)),
                    "maxFacesPerPerson": .number(Double(tenant.tenant.plan.selfServiceLimits.maxFacesPerPerson)),
                    "searchLimitMax": .number(Double(tenant.tenant.plan.selfServiceLimits.searchLimitMax)),
                ],
            ] as JSONValue
        }
        group.patch("/tenant/settings") { request, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            let changed = try await selfService.updateSettings(try await request.json(context: context), context: tenant)
            return try Representation.tenant(changed, models: models)
        }
        group.get("/keys") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            return ["keys": .array(try await selfService.keys(context: tenant).map(Representation.key))] as JSONValue
        }
        group.post("/keys") { request, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            let created = try await selfService.createKey(try await request.json(context: context), context: tenant)
            return Answer(
                status: .created, body: ["apiKey": .string(created.secret.text), "key": try Representation.key(created.key)],
                headers: [.cacheControl: "no-store"])
        }
        group.delete("/keys/{key}") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            try await selfService.revokeKey(try context.uuid("key", notFound: .keyNotFound), context: tenant)
            return HTTPResponse.Status.noContent
        }
    }
}
