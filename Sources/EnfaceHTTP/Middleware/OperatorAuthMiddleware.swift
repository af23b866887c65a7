// The operator plane's gate: operator tokens only, never a tenant's key.

import FaceService
import HTTPTypes
import Hummingbird
import Logging
import Tenancy

struct OperatorAuthMiddleware: RouterMiddleware {
    typealias Context = EnfaceRequestContext

    let tokens: OperatorTokens
    let metrics: EnfaceMetrics
    let audit: AuditTrail
    let bodyLimit: Int
    let anonymous: AnonymousLimit

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token = TenantAuthMiddleware.credential(request)
        // Checking a token costs nothing, but guessing one must not be free either.
        if !anonymous.allows(context), token.flatMap(tokens.operatorName(for:)) == nil { throw AnonymousLimit.refusal }
        guard let token else {
            metrics.authFailure(plane: "operator", reason: AuthenticationFailure.missingCredential.rawValue)
            context.logger.info("operator credential refused", metadata: ["reason": "no bearer token"])
            anonymous.charge(context)
            throw AuthenticationFailure.missingCredential
        }
        guard let name = tokens.operatorName(for: token) else {
            metrics.authFailure(plane: "operator", reason: AuthenticationFailure.unknownKey.rawValue)
            // The reason, never the token: a token whose hash is not configured is the usual mistake.
            context.logger.info(
                "operator credential refused",
                metadata: ["reason": "its SHA-256 is not among ENFACE_ADMIN_TOKENS' hashes", "configured": "\(tokens.count)"])
            anonymous.charge(context)
            audit.recordRefusal(
                AuditEvent(
                    tenantID: AuditEvent.platform, actor: "anonymous", action: "operator.auth.failure", outcome: .denied))
            throw AuthenticationFailure.unknownKey
        }
        var context = context
        context.operatorName = name
        context.bodyLimit = bodyLimit
        return try await next(request, context)
    }
}
