// The operator plane's gate: operator tokens only, never a tenant's key.

import FaceService
import HTTPTypes
import Hummingbird
import Storage
import Tenancy

struct OperatorAuthMiddleware: RouterMiddleware {
    typealias Context = EnfaceRequestContext

    let tokens: OperatorTokens
    let metrics: EnfaceMetrics
    let audit: AuditTrail
    let pool: PostgresPool
    let bodyLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = TenantAuthMiddleware.credential(request) else {
            metrics.authFailure(plane: "operator", reason: AuthenticationFailure.missingCredential.rawValue)
            throw AuthenticationFailure.missingCredential
        }
        guard let name = tokens.operatorName(for: token) else {
            metrics.authFailure(plane: "operator", reason: AuthenticationFailure.unknownKey.rawValue)
            await audit.recordRefusal(
                AuditEvent(
                    tenantID: AuditEvent.platform, actor: "anonymous", action: "operator.auth.failure", outcome: .denied),
                pool: pool)
            throw AuthenticationFailure.unknownKey
        }
        var context = context
        context.operatorName = name
        context.bodyLimit = bodyLimit
        return try await next(request, context)
    }
}
