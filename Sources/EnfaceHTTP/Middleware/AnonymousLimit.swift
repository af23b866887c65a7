// Requests that prove nothing (no credential, a bad key, a bad token) are counted per client
// address: a client spraying keys is refused before its next guess costs a key lookup.

import Hummingbird
import Tenancy

struct AnonymousLimit: Sendable {
    let limiter = RateLimiter<String>()
    /// Failed requests a client address may make per minute.
    let perMinute: Int

    /// Whether the client may still fail; one that used up its failures is refused before its
    /// credential costs a lookup (unless the credential is one this node holds as valid).
    func allows(_ context: EnfaceRequestContext) -> Bool {
        limiter.hasToken(context.clientAddress, limit: perMinute)
    }

    static let refusal = Problem(
        .tooManyRequests, code: "rate_limited", title: "Too many requests",
        detail: "Too many requests without a valid credential from this address; retry in a minute.",
        headers: [.retryAfter: "60"])

    /// Counts a failed request against its client.
    func charge(_ context: EnfaceRequestContext) {
        _ = limiter.acquire(context.clientAddress, limit: perMinute)
    }
}
