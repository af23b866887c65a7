// Requests per minute, per tenant: a token bucket that refills continuously.

import Foundation
import Synchronization

/// Each tenant has its own bucket holding up to `limit` tokens, refilled at `limit` per minute;
/// a request takes one. Buckets are per process: with several nodes, each enforces the limit on
/// the share of traffic it receives.
public final class RateLimiter: Sendable {
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var limit: Int
        public var remaining: Int
        /// Seconds until the bucket is full again (`RateLimit-Reset`).
        public var resetSeconds: Int
        /// Seconds until one request would be allowed (`Retry-After`), when refused.
        public var retryAfterSeconds: Int
    }

    private struct Bucket {
        var tokens: Double
        var limit: Int
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[UUID: Bucket]>([:])
    private let clock = ContinuousClock()

    public init() {}

    /// Takes one token from `tenant`'s bucket if it has one.
    public func acquire(tenant: UUID, limit: Int, now: ContinuousClock.Instant? = nil) -> Decision {
        let now = now ?? clock.now
        let perSecond = Double(limit) / 60
        return buckets.withLock { buckets in
            var bucket = buckets[tenant] ?? Bucket(tokens: Double(limit), limit: limit, updated: now)
            if bucket.limit != limit {
                // The quota changed: keep the fraction used, at the new size.
                bucket.tokens = bucket.tokens / Double(max(1, bucket.limit)) * Double(limit)
                bucket.limit = limit
            }
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Double(limit), bucket.tokens + max(0, seconds) * perSecond)
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[tenant] = bucket
            let missing = Double(limit) - bucket.tokens
            return Decision(
                allowed: allowed, limit: limit, remaining: Int(bucket.tokens.rounded(.down)),
                resetSeconds: Int((missing / perSecond).rounded(.up)),
                retryAfterSeconds: allowed ? 0 : max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))))
        }
    }

    /// Forgets a tenant's bucket (deleted tenant, tests).
    public func reset(tenant: UUID) {
        _ = buckets.withLock { $0.removeValue(forKey: tenant) }
    }
}
