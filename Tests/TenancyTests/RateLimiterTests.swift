// The token bucket, on a clock the test moves.

import Foundation
import Tenancy
import Testing

@Suite struct RateLimiterTests {
    @Test func aBurstOfTheLimitThenOneTokenPerSixtiethOfAMinute() {
        let limiter = RateLimiter()
        let tenant = UUID()
        let start = ContinuousClock.now
        for remaining in (0..<6).reversed() {
            let decision = limiter.acquire(tenant: tenant, limit: 6, now: start)
            #expect(decision.allowed && decision.remaining == remaining)
        }
        let refused = limiter.acquire(tenant: tenant, limit: 6, now: start)
        #expect(!refused.allowed && refused.retryAfterSeconds == 10 && refused.limit == 6)
        // 6 a minute is one every 10 s.
        #expect(!limiter.acquire(tenant: tenant, limit: 6, now: start + .seconds(9)).allowed)
        #expect(limiter.acquire(tenant: tenant, limit: 6, now: start + .seconds(10)).allowed)
        // Another tenant has its own bucket.
        #expect(limiter.acquire(tenant: UUID(), limit: 6, now: start).remaining == 5)
        // After a quiet minute the bucket is full again, not fuller.
        #expect(limiter.acquire(tenant: tenant, limit: 6, now: start + .seconds(600)).remaining == 5)
    }

    @Test func concurrentAcquiresNeverGrantMoreThanTheLimit() async {
        let limiter = RateLimiter()
        let tenant = UUID()
        let now = ContinuousClock.now
        let granted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<1_000 { group.addTask { limiter.acquire(tenant: tenant, limit: 100, now: now).allowed } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(granted == 100)
    }
}
