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
    let registry: FaceRegistry

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.get("/tenant") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            let today = usage.today(tenant.tenantID) ?? UsageCounts()
            let perDay = Int64(tenant.tenant.quotas.requestsPerDay)
            let limits = tenant.tenant.plan.selfServiceLimits
            return TenantOverview(
                tenant: TenantAnswer(tenant.tenant, models: models),
                usage: .init(today: today, requestsPerDay: perDay, requestsRemainingToday: max(0, perDay.saturatingSubtract(today.requests))),
                selfService: .init(
                    settings: tenant.tenant.plan.selfServiceSettings.sorted(), maxFacesPerPerson: limits.maxFacesPerPerson,
                    searchLimitMax: limits.searchLimitMax))
        }
        group.patch("/tenant/settings") { request, context -> Response in
            let tenant = try context.requireTenant(.tenantAdmin)
            let patch = try await request.json(context: context)
            if try Query(request).flag("dryRun") {
                let (before, after) = try await selfService.previewSettings(patch, context: tenant)
                let effect = try await registry.effect(from: before, to: after)
                return try DryRunAnswer(tenant: TenantAnswer(after, models: models), effect: effect).response(from: request, context: context)
            }
            let changed = try await selfService.updateSettings(patch, context: tenant)
            return try TenantAnswer(changed, models: models).response(from: request, context: context)
        }
        group.get("/tenant/calibration") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            return CalibrationAnswer(outcome: try await registry.calibration(of: tenant.tenant))
        }
        group.get("/models") { _, context in
            // Any key of the tenant may read the catalogue: it names no one.
            ModelList(models, tenantModel: try context.requireTenant().tenant.model)
        }
        group.get("/keys") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            return KeyList(keys: try await selfService.keys(context: tenant))
        }
        group.post("/keys") { request, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            let created = try await selfService.createKey(try await request.json(context: context), context: tenant)
            return EditedResponse(
                status: .created, headers: [.cacheControl: "no-store"],
                response: CreatedKeyAnswer(apiKey: created.secret.text, key: created.key))
        }
        group.delete("/keys/{key}") { _, context in
            let tenant = try context.requireTenant(.tenantAdmin)
            try await selfService.revokeKey(try context.uuid("key", notFound: .keyNotFound), context: tenant)
            return HTTPResponse.Status.noContent
        }
    }
}
