// The data plane's gate: one tenant per request, from a credential and nothing else.

import FaceService
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Tenancy

/// Authenticates the credential (`X-API-Key`, or `Authorization: Bearer` with a key or a JWT),
/// checks the host binding, the tenant's rate limit and daily quota, and sets the context's
/// tenant. Any tenant id in the body, query or headers is never read: it cannot change anything.
struct TenantAuthMiddleware: RouterMiddleware {
    typealias Context = EnfaceRequestContext

    let authenticator: Authenticator
    let rateLimiter: RateLimiter<UUID>
    let anonymous: AnonymousLimit
    let usage: UsageMeter
    let metrics: EnfaceMetrics
    /// With `acme.tenants.example.com` the suffix is `tenants.example.com`.
    let hostSuffix: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = Self.host(request)
        if hostSuffix != nil, host == nil { throw RequestError.hostRequired }
        let credential = Self.credential(request)
        // An address that keeps failing is refused before its guess costs a key lookup; a key this
        // node already holds as valid (a neighbour behind the same address) still passes.
        if !anonymous.allows(context), credential.map(authenticator.isKnownValid) != true {
            throw AnonymousLimit.refusal
        }
        guard let credential else {
            metrics.authFailure(plane: "data", reason: AuthenticationFailure.missingCredential.rawValue)
            context.logger.info("credential refused", metadata: ["reason": "\(AuthenticationFailure.missingCredential.rawValue)"])
            anonymous.charge(context)
            throw AuthenticationFailure.missingCredential
        }
        let tenant: TenantContext
        do {
            tenant = try await authenticator.authenticate(credential)
        } catch let failure as AuthenticationFailure {
            metrics.authFailure(plane: "data", reason: failure.rawValue)
            context.logger.info("credential refused", metadata: ["reason": "\(failure.rawValue)"])
            anonymous.charge(context)
            throw failure
        }
        context.notes.noteTenant(slug: tenant.tenant.slug, id: tenant.tenantID.uuidString.lowercased())

        if let hostSuffix, let host, let slug = Self.tenantSlug(host: host, suffix: hostSuffix), slug != tenant.tenant.slug {
            await authenticator.recordCrossTenantAttempt(tenant, requestedHost: host)
            throw AccessDenied.hostMismatch
        }

        let minute = rateLimiter.acquire(tenant.tenantID, limit: tenant.tenant.quotas.requestsPerMinute)
        guard minute.allowed else {
            metrics.rateLimited(tenant: tenant.tenant.slug, kind: "minute")
            throw RateLimited.minute(minute)
        }
        let day = try await usage.admit(tenant.tenant)
        guard day.allowed else {
            metrics.rateLimited(tenant: tenant.tenant.slug, kind: "day")
            throw RateLimited.day(day, minute: minute)
        }
        if case .apiKey(let key, _) = tenant.credential { usage.noteKeyUsed(key, tenant: tenant.tenantID) }

        var context = context
        context.tenant = tenant
        context.bodyLimit = tenant.tenant.quotas.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > context.bodyLimit {
            throw RequestError.payloadTooLarge(limit: context.bodyLimit)
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Errors are answered here, so their answer carries the rate-limit headers too.
            response = ProblemMiddleware.problem(for: error, logger: context.logger).response(requestID: context.requestID)
        }
        RateLimited.headers(minute).forEach { response.headers[$0.name] = $0.value }
        Self.allowOrigin(request, tenant: tenant.tenant, response: &response)
        return response
    }

    /// The allowed origins of the tenant the request's host names (`acme.<suffix>`), for a
    /// preflight, which carries no credential; nil when the host names no tenant.
    func hostTenantOrigins(_ request: Request, context: Context) async -> [String]? {
        guard let hostSuffix, let host = Self.host(request), let slug = Self.tenantSlug(host: host, suffix: hostSuffix) else {
            return nil
        }
        // A preflight needs no credential: a host naming no tenant counts as a failed guess, and
        // an address that keeps guessing gets no more lookups.
        guard anonymous.allows(context) else { return [] }
        guard let tenant = (try? await authenticator.tenant(slug: slug)) ?? nil else {
            anonymous.charge(context)
            return []
        }
        return tenant.settings.allowedOrigins
    }

    /// `X-API-Key` first, then `Authorization: Bearer`.
    static func credential(_ request: Request) -> String? {
        if let key = request.headers[.apiKey], !key.isEmpty { return key }
        guard let authorization = request.headers[.authorization] else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The request's host as DNS compares names: without its port, in lower case, without the
    /// trailing dot of a fully qualified name (`Victim.Tenants.Example.com.:443` is
    /// `victim.tenants.example.com`). Nil when the request names none.
    static func host(_ request: Request) -> String? {
        guard let authority = request.head.authority, !authority.isEmpty else { return nil }
        return normalizedHost(authority)
    }

    static func normalizedHost(_ authority: String) -> String? {
        var host = Substring(authority)
        if host.hasPrefix("[") {
            // An IPv6 literal: what is inside the brackets, never a tenant's name.
            guard let end = host.firstIndex(of: "]") else { return nil }
            host = host[host.index(after: host.startIndex)..<end]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        while host.hasSuffix(".") { host = host.dropLast() }
        let normalized = host.lowercased()
        return normalized.isEmpty ? nil : normalized
    }

    /// `acme` for `acme.<suffix>`; nil for any other host (direct addresses are not bound).
    static func tenantSlug(host: String, suffix: String) -> String? {
        guard let suffix = normalizedHost(suffix) else { return nil }
        guard host.hasSuffix("." + suffix) else { return nil }
        let slug = String(host.dropLast(suffix.count + 1))
        return slug.isEmpty || slug.contains(".") ? nil : slug
    }

    /// CORS for browsers: only the tenant's allowed origins may read the answer.
    static func allowOrigin(_ request: Request, tenant: Tenant, response: inout Response) {
        guard let origin = request.headers[.origin], tenant.settings.allowedOrigins.contains(origin) else { return }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
    }
}

/// 429s: per-minute rate and daily quota.
enum RateLimited: Error, ProblemConvertible {
    case minute(RateLimiter<UUID>.Decision)
    case day(UsageMeter.Decision, minute: RateLimiter<UUID>.Decision)

    static func headers(_ decision: RateLimiter<UUID>.Decision) -> HTTPFields {
        [
            .rateLimitLimit: String(decision.limit), .rateLimitRemaining: String(decision.remaining),
            .rateLimitReset: String(decision.resetSeconds),
        ]
    }

    var problem: Problem {
        switch self {
        case .minute(let decision):
            var headers = Self.headers(decision)
            headers[.retryAfter] = String(decision.retryAfterSeconds)
            return Problem(
                .tooManyRequests, code: "rate_limited", title: "Too many requests",
                detail: "This tenant may make \(decision.limit) requests a minute.", headers: headers)
        case .day(let decision, let minute):
            var headers = Self.headers(minute)
            headers[.retryAfter] = String(decision.resetSeconds)
            return Problem(
                .tooManyRequests, code: "daily_quota_exceeded", title: "Daily quota used up",
                detail: "This tenant may make \(decision.limit) requests a day (UTC).", headers: headers)
        }
    }
}

extension HTTPField.Name {
    static let apiKey = HTTPField.Name("X-API-Key")!
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
}
