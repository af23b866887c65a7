// The pure rules of tenancy: lifecycle, settings and quotas validation, keys' shape, tokens.

import Foundation
import Tenancy
import Testing
import WireFormats

@Suite struct TenantRulesTests {
    @Test func theLifecycleAllowsExactlyItsFiveMoves() {
        var allowed: [String] = []
        for from in TenantStatus.allCases {
            for to in TenantStatus.allCases where from.canBecome(to) { allowed.append("\(from.rawValue)→\(to.rawValue)") }
        }
        #expect(allowed == ["pending→active", "pending→deleted", "active→suspended", "suspended→active", "suspended→deleted"])
        #expect(LifecycleError(from: .active, to: .deleted).detail.contains("suspended before"))
    }

    @Test func slugsAreHostNameSafe() {
        for good in ["abc", "acme-corp", "a1-b2", String(repeating: "a", count: 50)] { #expect(Tenant.isValidSlug(good), "\(good)") }
        for bad in ["ab", "-abc", "abc-", "Acme", "acme_corp", "acme.corp", "", String(repeating: "a", count: 51), "ác-me",
                    "3f2c4d5e-0000-4000-8000-000000000001"] {
            #expect(!Tenant.isValidSlug(bad), "\(bad)")
        }
    }

    @Test func settingsRejectEveryBadFieldWithItsPointer() {
        let patch: JSONValue = [
            "matchThreshold": 1.5, "maxFacesPerPerson": 0, "searchLimitMax": "ten", "features": ["beta": "yes"],
            "allowedOrigins": ["not a url"], "searchableTemplates": 1, "colour": "blue",
        ]
        #expect(throws: ValidationFailure.self) { try TenantSettings().applying(patch) }
        do {
            _ = try TenantSettings().applying(patch)
        } catch {
            #expect(Set(error.errors.map(\.pointer)) == [
                "/settings/matchThreshold", "/settings/maxFacesPerPerson", "/settings/searchLimitMax", "/settings/features/beta",
                "/settings/allowedOrigins/0", "/settings/searchableTemplates", "/settings/colour",
            ])
            #expect(error.errors.first { $0.pointer == "/settings/colour" }?.code == "unknown_field")
            #expect(error.errors.first { $0.pointer == "/settings/matchThreshold" }?.code == "out_of_range")
        }
    }

    @Test func goodSettingsApplyAndNullReturnsToTheModelsThreshold() throws {
        let changed = try TenantSettings().applying([
            "matchThreshold": 0.4, "maxFacesPerPerson": 5, "allowedOrigins": ["https://app.example.com"],
            "features": ["liveness": true],
        ])
        #expect(changed.matchThreshold == 0.4 && changed.maxFacesPerPerson == 5)
        #expect(changed.allowedOrigins == ["https://app.example.com"] && changed.features == ["liveness": true])
        #expect(try changed.applying(["matchThreshold": .null]).matchThreshold == nil)
    }

    @Test func aTenantsOwnAdministratorsStayWithinTheirPlan() throws {
        let plan = Plan.starter
        let apply = { (patch: JSONValue) throws(ValidationFailure) in
            try TenantSettings().applying(patch, pointer: "", allowed: plan.selfServiceSettings, limits: plan.selfServiceLimits)
        }
        #expect(try apply(["maxFacesPerPerson": 5]).maxFacesPerPerson == 5)
        for (patch, pointer, code): (JSONValue, String, String) in [
            (["maxFacesPerPerson": 6], "/maxFacesPerPerson", "out_of_range"),
            (["searchableTemplates": false], "/searchableTemplates", "not_allowed"),
            (["features": ["x": true]], "/features", "not_allowed"),
        ] {
            do {
                _ = try apply(patch)
                Issue.record("\(patch) was accepted")
            } catch {
                #expect(error.errors.contains { $0.pointer == pointer && $0.code == code }, "\(error.errors)")
            }
        }
    }

    @Test func quotasAreRangeChecked() throws {
        let quotas = try Plan.starter.defaultQuotas.applying(["requestsPerMinute": 10, "retentionDays": 0])
        #expect(quotas.requestsPerMinute == 10 && quotas.retentionDays == 0 && quotas.maxFaces == 10_000)
        do {
            _ = try quotas.applying(["requestsPerMinute": 0, "maxBodyBytes": 10, "maxFaces": 1.5, "unknown": 1])
            Issue.record("accepted")
        } catch {
            #expect(Set(error.errors.map(\.pointer)) == ["/quotas/requestsPerMinute", "/quotas/maxBodyBytes", "/quotas/maxFaces", "/quotas/unknown"])
        }
    }

    @Test func everyPlanHasQuotasThatGrowWithIt() {
        let plans = Plan.allCases.map(\.defaultQuotas)
        #expect(plans.map(\.requestsPerMinute) == plans.map(\.requestsPerMinute).sorted())
        #expect(plans.map(\.maxFaces) == plans.map(\.maxFaces).sorted())
        #expect(Plan.allCases.allSatisfy { $0.selfServiceSettings.isSubset(of: TenantSettings.fields) })
    }

    @Test func apiKeysHaveOneShapeAndAreNeverEqualByAccident() {
        let keys = (0..<100).map { _ in APIKeySecret.generate() }
        #expect(Set(keys.map(\.text)).count == 100)
        for key in keys {
            #expect(key.text.hasPrefix("efk_") && key.text.count == 47 && key.prefix.count == 12)
            #expect(APIKeySecret(presented: key.text) == key)
            #expect(key.hash.count == 32)
            #expect(!"\(key)".contains(key.text.dropFirst(12)))
        }
        for bad in ["", "efk_", "efk_" + String(repeating: "A", count: 42), "efk_" + String(repeating: "A", count: 42) + "!",
                    "xyz_" + String(repeating: "A", count: 43), String(repeating: "A", count: 47)] {
            #expect(APIKeySecret(presented: bad) == nil, "\(bad)")
        }
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]) && !constantTimeEquals([1, 2, 3], [1, 2, 4]) && !constantTimeEquals([1], [1, 2]))
    }

    @Test func scopesParseStrictly() {
        let parsed = Scope.parse(["search", "verify", "root", "search"])
        #expect(parsed.scopes == [.search, .verify] && parsed.unknown == ["root"])
    }

    @Test func operatorTokensAreConfiguredByHashAndMatchedByName() throws {
        let token = OperatorTokens.generate()
        #expect(token.hasPrefix("efo_") && token.count == 47)
        let tokens = try OperatorTokens(
            OperatorTokens.configurationLine(name: "alice", token: token) + ", "
                + OperatorTokens.configurationLine(name: "bob", token: "bobs-token"))
        #expect(tokens.operatorName(for: token) == "alice")
        #expect(tokens.operatorName(for: "bobs-token") == "bob")
        #expect(tokens.operatorName(for: "bobs-token ") == nil && tokens.operatorName(for: "") == nil)
        #expect(try OperatorTokens("").isEmpty)
        #expect(throws: ValidationFailure.self) { try OperatorTokens("alice:nothex") }
        #expect(throws: ValidationFailure.self) { try OperatorTokens("alice") }
    }
}
