// Requests per minute, per tenant (or per client address): a token bucket that refills continuously.

import Foundation
import Synchronization

/// Each key has its own bucket holding up to `limit` tokens, refilled at `limit` per minute; a
/// request takes one. Buckets are per process: with several nodes, each enforces the limit on the
/// share of traffic it receives. Keys whose bucket has refilled are forgotten once more than
/// `capacity` keys are known, so keys an attacker chooses (client addresses) cannot grow it
/// without bound.
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
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

    private let buckets = Mutex<[Key: Bucket]>([:])
    private let clock = ContinuousClock()
    private let capacity: Int

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Takes one token from `key`'s bucket if it has one.
    public func acquire(_ key: Key, limit: Int, now: ContinuousClock.Instant? = nil) -> Decision {
        update(key, limit: limit, now: now) { bucket in
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }

    /// Whether `key` has a token now, without taking it.
    public func hasToken(_ key: Key, limit: Int, now: ContinuousClock.Instant? = nil) -> Bool {
        let now = now ?? clock.now
        let limit = max(1, limit)
        return buckets.withLock { buckets in
            guard let bucket = buckets[key] else { return true }
            return bucket.tokens + max(0, Self.seconds(now - bucket.updated)) * Double(limit) / 60 >= 1
        }
    }

    /// Takes `tokens` more for work already done (the extra faces of a photo), even past empty:
    /// the debt is paid by refusing the next requests until the bucket refills.
    public func charge(_ key: Key, limit: Int, tokens: Int, now: ContinuousClock.Instant? = nil) {
        guard tokens > 0 else { return }
        _ = update(key, limit: limit, now: now) { bucket in
            bucket.tokens = max(-Double(bucket.limit), bucket.tokens - Double(tokens))
            return true
        }
    }

    private func update(
        _ key: Key, limit: Int, now: ContinuousClock.Instant?, _ take: (inout Bucket) -> Bool
    ) -> Decision {
        let now = now ?? clock.now
        // A limit below one (a hand-edited row) is one: never a division by zero.
        let limit = max(1, limit)
        let perSecond = Double(limit) / 60
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(limit), limit: limit, updated: now)
            if bucket.limit != limit {
                // The quota changed: keep the fraction used, at the new size.
                bucket.tokens = bucket.tokens / Double(bucket.limit) * Double(limit)
                bucket.limit = limit
            }
            let elapsed = now - bucket.updated
            bucket.tokens = min(Double(limit), bucket.tokens + max(0, Self.seconds(elapsed)) * perSecond)
            bucket.updated = now
            let allowed = take(&bucket)
            if buckets.count >= capacity, buckets[key] == nil { Self.forgetFull(&buckets, now: now) }
            buckets[key] = bucket
            let missing = Double(limit) - bucket.tokens
            return Decision(
                allowed: allowed, limit: limit, remaining: Int(max(0, bucket.tokens).rounded(.down)),
                resetSeconds: Int((missing / perSecond).rounded(.up)),
                retryAfterSeconds: allowed ? 0 : max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))))
        }
    }

    /// Drops every bucket that has refilled by now: forgetting it changes nothing.
    private static func forgetFull(_ buckets: inout [Key: Bucket], now: ContinuousClock.Instant) {
        buckets = buckets.filter { _, bucket in
            bucket.tokens + max(0, seconds(now - bucket.updated)) * Double(bucket.limit) / 60 < Double(bucket.limit)
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Forgets a key's bucket (deleted tenant, tests).
    public func reset(_ key: Key) {
        _ = buckets.withLock { $0.removeValue(forKey: key) }
    }

    /// Keys with a bucket now.
    public var count: Int { buckets.withLock { $0.count } }
}
