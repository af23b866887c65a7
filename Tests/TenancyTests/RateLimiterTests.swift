// The token bucket, on a clock the test moves.

import Foundation
import Tenancy
import Testing

@Suite struct RateLimiterTests {
    @Test func aBurstOfTheLimitThenOneTokenPerSixtiethOfAMinute() {
        let limiter = RateLimiter<UUID>()
        let tenant = UUID()
        let start = ContinuousClock.now
        for remaining in (0..<6).reversed() {
            let decision = limiter.acquire(tenant, limit: 6, now: start)
            #expect(decision.allowed && decision.remaining == remaining)
        }
        let refused = limiter.acquire(tenant, limit: 6, now: start)
        #expect(!refused.allowed && refused.retryAfterSeconds == 10 && refused.limit == 6)
        // 6 a minute is one every 10 s.
        #expect(!limiter.acquire(tenant, limit: 6, now: start + .seconds(9)).allowed)
        #expect(limiter.acquire(tenant, limit: 6, now: start + .seconds(10)).allowed)
        // Another tenant has its own bucket.
        #expect(limiter.acquire(UUID(), limit: 6, now: start).remaining == 5)
        // After a quiet minute the bucket is full again, not fuller.
        #expect(limiter.acquire(tenant, limit: 6, now: start + .seconds(600)).remaining == 5)
    }

    @Test func concurrentAcquiresNeverGrantMoreThanTheLimit() async {
        let limiter = RateLimiter<UUID>()
        let tenant = UUID()
        let now = ContinuousClock.now
        let granted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<1_000 { group.addTask { limiter.acquire(tenant, limit: 100, now: now).allowed } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(granted == 100)
    }
}

struct RateLimiterEdgeTests {
    @Test func aLimitOfZeroIsOneNotADivisionByZero() {
        let limiter = RateLimiter<UUID>()
        let tenant = UUID()
        #expect(limiter.acquire(tenant, limit: 0).allowed)
        #expect(!limiter.acquire(tenant, limit: 0).allowed)
    }

    @Test func chargedWorkIsPaidByRefusingTheNextRequests() {
        let limiter = RateLimiter<UUID>()
        let tenant = UUID()
        let start = ContinuousClock.now
        #expect(limiter.acquire(tenant, limit: 60, now: start).allowed)
        limiter.charge(tenant, limit: 60, tokens: 64, now: start)  // a photo of 65 faces
        #expect(!limiter.acquire(tenant, limit: 60, now: start + .seconds(4)).allowed)
        // 59 tokens of debt past -1 refill in about a minute at one a second: the floor is -limit.
        #expect(limiter.acquire(tenant, limit: 60, now: start + .seconds(62)).allowed)
    }

    @Test func keysThatRefilledAreForgottenSoAddressesCannotGrowIt() {
        let limiter = RateLimiter<String>(capacity: 100)
        let start = ContinuousClock.now
        for address in 0..<1_000 { _ = limiter.acquire("10.0.\(address / 256).\(address % 256)", limit: 60, now: start) }
        #expect(limiter.count > 100)  // none had refilled yet
        for address in 0..<1_000 { _ = limiter.acquire("10.1.\(address / 256).\(address % 256)", limit: 60, now: start + .seconds(2)) }
        #expect(limiter.count <= 1_100)
    }
}
