// Planning a provisioning file, without a database: what each declared tenant becomes, what
// --prune does to the undeclared, and that every refusal of a file is reported at once.

import Foundation
import Testing
import Tenancy
import WireFormats

@testable import FaceService

struct ProvisioningPlanTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A tenant in `status`, reached by the lifecycle's own moves (written out here, not taken
    /// from the planner under test).
    static func tenant(_ slug: String, _ status: TenantStatus, plan: Plan = .starter) throws -> Tenant {
        var tenant = Tenant(
            id: UUID(), slug: slug, name: "Tenant \(slug)", status: .pending, plan: plan, model: ModelCatalog.defaultModel,
            settings: TenantSettings(), quotas: plan.defaultQuotas, createdAt: now.addingTimeInterval(-86_400))
        let moves: [TenantStatus: [TenantStatus]] = [
            .pending: [], .active: [.active], .suspended: [.active, .suspended], .deleted: [.active, .suspended, .deleted],
        ]
        for step in moves[status] ?? [] { tenant.enter(step, reason: nil, at: now.addingTimeInterval(-3_600)) }
        try #require(tenant.status == status, "the fixture could not reach \(status)")
        return tenant
    }

    static func desired(_ json: String) throws -> [DesiredTenant] {
        try ProvisioningFile.parse(Data(json.utf8), models: ModelCatalog.bundled())
    }

    static func plan(_ json: String, prune: Bool = false, existing: [Tenant]) throws -> [Provisioner.Planned] {
        try Provisioner.plan(
            try desired(json), prune: prune, existing: Dictionary(uniqueKeysWithValues: existing.map { ($0.slug, $0) }), now: now)
    }

    /// A file's status against the tenant's, and the statuses the apply passes through.
    @Test(arguments: [
        (TenantStatus.pending, TenantStatus.active, [TenantStatus.active]),
        (.pending, .suspended, [.active, .suspended]),
        (.active, .deleted, [.suspended, .deleted]),
        (.pending, .deleted, [.deleted]),
        (.suspended, .active, [.active]),
        (.active, .active, []),
    ])
    func aDeclaredStatusIsReachedThroughTheLifecycle(from: TenantStatus, to: TenantStatus, path: [TenantStatus]) throws {
        #expect(Provisioner.lifecyclePath(from: from, to: to) == path)
        let planned = try Self.plan(
            #"{"tenants":[{"slug":"acme","name":"Tenant acme","status":"\#(to.rawValue)"}]}"#, existing: [try Self.tenant("acme", from)])
        #expect(planned.map(\.step.kind) == [from == to ? .unchanged : .update])
        #expect(planned.first?.target.status == to)
    }

    @Test(arguments: [(TenantStatus.active, TenantStatus.pending), (.suspended, .pending)])
    func aMoveTheLifecycleForbidsIsRefused(from: TenantStatus, to: TenantStatus) throws {
        #expect(Provisioner.lifecyclePath(from: from, to: to) == nil)
        do {
            _ = try Self.plan(
                #"{"tenants":[{"slug":"acme","name":"Tenant acme","status":"\#(to.rawValue)"}]}"#, existing: [try Self.tenant("acme", from)])
            Issue.record("\(from) → \(to) was planned")
        } catch TenancyError.invalid(let failure) {
            #expect(failure.errors.map(\.pointer) == ["/tenants/0/status"])
            #expect(failure.errors.map(\.code) == ["invalid_transition"])
        }
    }

    @Test(arguments: [TenantStatus.active, .pending])
    func aDeletedTenantIsNeverChangedByAFile(to status: TenantStatus) throws {
        do {
            _ = try Self.plan(
                #"{"tenants":[{"slug":"gone","name":"Gone","status":"\#(status.rawValue)"}]}"#, existing: [try Self.tenant("gone", .deleted)])
            Issue.record("a deleted tenant was planned")
        } catch TenancyError.invalid(let failure) {
            #expect(failure.errors.map(\.pointer) == ["/tenants/0/slug"] && failure.errors.map(\.code) == ["not_allowed"])
        }
    }

    @Test func aNewTenantIsCreatedActiveUnlessTheFileSaysOtherwise() throws {
        let planned = try Self.plan(
            #"{"tenants":[{"slug":"one","name":"One"},{"slug":"two","name":"Two","status":"pending","plan":"pro"}]}"#, existing: [])
        #expect(planned.map(\.step.kind) == [.create, .create])
        #expect(planned.map(\.target.status) == [.active, .pending])
        #expect(planned.last?.target.quotas == Plan.pro.defaultQuotas)
    }

    @Test func onlyWhatTheFileSaysChangesAndEachChangeIsNamed() throws {
        var current = try Self.tenant("acme", .active)
        current.settings = try current.settings.applying(["maxFacesPerPerson": 7], pointer: "/settings")
        let planned = try Self.plan(
            #"{"tenants":[{"slug":"acme","name":"Acme Corp","settings":{"matchThreshold":0.5}}]}"#, existing: [current])
        let changes = try #require(planned.first?.step.changes)
        #expect(changes.map(\.field) == ["name", "settings.matchThreshold"])
        #expect(planned.first?.target.settings.maxFacesPerPerson == 7)
    }

    @Test func pruneSuspendsTheActiveDeletesTheSuspendedAndKeepsThePending() throws {
        let existing = [
            try Self.tenant("declared", .active), try Self.tenant("busy", .active), try Self.tenant("idle", .suspended),
            try Self.tenant("new", .pending),
        ]
        let planned = try Self.plan(#"{"tenants":[{"slug":"declared","name":"Tenant declared"}]}"#, prune: true, existing: existing)
        let kinds = Dictionary(uniqueKeysWithValues: planned.map { ($0.step.slug, $0.step.kind) })
        #expect(kinds == ["declared": .unchanged, "busy": .suspend, "idle": .delete, "new": .keep])
        #expect(planned.first { $0.step.slug == "busy" }?.target.status == .suspended)
        // Without --prune, the undeclared are left alone.
        #expect(try Self.plan(#"{"tenants":[]}"#, existing: existing).isEmpty)
    }

    @Test func everyRefusalOfAFileIsReportedAtOnce() throws {
        let existing = [try Self.tenant("gone", .deleted), try Self.tenant("fixed", .active)]
        let file = #"""
            {"tenants":[{"slug":"gone","name":"Gone"},{"slug":"fixed","name":"Fixed","model":"facenet512"},
                        {"slug":"missing","name":"Missing","status":"deleted"}]}
            """#
        do {
            _ = try Self.plan(file, existing: existing)
            Issue.record("the plan was accepted")
        } catch TenancyError.invalid(let failure) {
            #expect(failure.errors.map(\.pointer) == ["/tenants/0/slug", "/tenants/1/model", "/tenants/2/status"])
        }
    }
}
