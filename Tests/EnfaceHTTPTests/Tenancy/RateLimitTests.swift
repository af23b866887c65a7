// Per-tenant rate limits and daily quotas, from the outside.

import Foundation
import HTTPTypes
import HummingbirdTesting
import Tenancy
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct RateLimitTests {
    @Test func requestLPlusOneInAMinuteIsA429WithRetryAfter() async throws {
        try await LiveService.run { enface in
            let limited = try await enface.createTenant(quotas: ["requestsPerMinute": 5])
            let other = try await enface.createTenant(quotas: ["requestsPerMinute": 5])
            let started = ContinuousClock.now
            for remaining in (0..<5).reversed() {
                let reply = try await enface.call(.get, "/v1/tenant", key: limited.key)
                #expect(reply.status == .ok)
                #expect(reply.headers[.init("RateLimit-Limit")!] == "5")
                #expect(reply.headers[.init("RateLimit-Remaining")!] == String(remaining))
            }
            // Request 6 is refused, unless this machine took over 12 s for the five (5 a minute
            // refills one token every 12 s): then each refilled token may pass, and no more.
            var refused = try await enface.call(.get, "/v1/tenant", key: limited.key)
            var extra = 0
            while refused.status == .ok && extra < 5 {
                extra += 1
                refused = try await enface.call(.get, "/v1/tenant", key: limited.key)
            }
            #expect(extra <= Int((ContinuousClock.now - started).components.seconds / 12))
            #expect(refused.status == .tooManyRequests && refused.code == "rate_limited")
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
            #expect(refused.headers[.init("RateLimit-Remaining")!] == "0")
            #expect(refused.headers[.init("RateLimit-Reset")!].flatMap(Int.init) != nil)
            // Per tenant, never global.
            #expect(try await enface.call(.get, "/v1/tenant", key: other.key).status == .ok)
            // Refusals are counted where operators look.
            let metrics = try await enface.call(
                .get, "/metrics", headers: enface.operatorHeaders)
            #expect(metrics.body.contains("enface_rate_limited_total{tenant=\"\(limited.slug)\",kind=\"minute\"} 1"))
        }
    }

    @Test func sixtyFourParallelRequestsNeverExceedTheLimit() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["requestsPerMinute": 10])
            let port = try #require(enface.port)
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        try await TestClient.withClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(120))) { client in
                            try await client.execute(
                                .init("/v1/tenant", method: .get, authority: "localhost", headers: [EnfaceClient.apiKey: tenant.key]),
                                heldTo: .served
                            ).status
                        }
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            // The bucket refills one token every 6 s (10 a minute): on a slow machine the 64
            // requests may span a refill or two, and those tokens are the only extra successes.
            let elapsed = ContinuousClock.now - started
            let refilled = Int(elapsed.components.seconds / 6)
            let succeeded = statuses.filter { $0 == .ok }.count
            #expect(statuses.count == 64)
            #expect(succeeded >= 10 && succeeded <= 10 + refilled, "\(succeeded) in \(elapsed)")
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 64 - succeeded)
        }
    }

    @Test func theDailyQuotaSurvivesARestart() async throws {
        let tenant = LockedBox<CreatedTenant?>(nil)
        try await LiveService.run { enface in
            let created = try await enface.createTenant(quotas: ["requestsPerDay": 3])
            await tenant.set(created)
            for _ in 0..<3 { #expect(try await enface.call(.get, "/v1/tenant", key: created.key).status == .ok) }
            let refused = try await enface.call(.get, "/v1/tenant", key: created.key)
            #expect(refused.status == .tooManyRequests && refused.code == "daily_quota_exceeded")
            #expect(refused.headers[.retryAfter].flatMap(Int.init).map { (1...86_400).contains($0) } == true)
        }
        // A new process: the count comes back from the database.
        let created = try #require(await tenant.value)
        try await LiveService.run { enface in
            let reply = try await enface.call(.get, "/v1/tenant", key: created.key)
            #expect(reply.status == .tooManyRequests && reply.code == "daily_quota_exceeded")
            let usage = try await enface.admin(.get, "/tenants/\(created.id)/usage")
            let today = usage["days"]?.arrayValue?.last?.objectValue
            #expect(today?["requests"] == 3)
        }
    }

    @Test func aBodyOverTheTenantsLimitIsRefusedBeforeItIsRead() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["maxBodyBytes": 1_024])
            let big = "{\"allowedOrigins\": [\"" + String(repeating: "x", count: 2_000) + "\"]}"
            let reply = try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, body: big)
            #expect(reply.status == .contentTooLarge && reply.code == "payload_too_large")
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)")["settings"]?.objectValue?["allowedOrigins"] == [])
        }
    }
}

/// A value handed from one part of a test to the next.
actor LockedBox<Value: Sendable> {
    var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ value: Value) { self.value = value }
}
