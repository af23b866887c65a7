// The per-request context every route and middleware receives.

import Foundation
import FaceService
import Hummingbird
import Logging
import Tenancy

/// Hummingbird's core context plus what Enface knows about the request.
public struct EnfaceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `RequestIDMiddleware`; echoed in `X-Request-ID` and in every problem body.
    public var requestID: String
    /// Set once, by `TenantAuthMiddleware`, from a credential and nothing else.
    public internal(set) var tenant: TenantContext?
    /// Set by `OperatorAuthMiddleware`: the operator's configured name.
    public internal(set) var operatorName: String?
    /// The most a body may hold on this request (the tenant's quota on the data plane).
    public internal(set) var bodyLimit: Int
    /// Shared with the middleware around this one (access log, metrics).
    let notes = RequestNotes()
    /// The peer's IP address, which requests without a valid credential are counted against.
    let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.bodyLimit = EnfaceRequestContext.defaultBodyLimit
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    static let defaultBodyLimit = 1 << 20

    /// Typed answers as JSON: dates RFC 3339, keys sorted (a stable body), slashes as they are.
    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The request's tenant, holding `scope`; only routes behind `TenantAuthMiddleware` call this.
    func requireTenant(_ scope: Scope? = nil) throws -> TenantContext {
        guard let tenant else { throw AuthenticationFailure.missingCredential }
        if let scope, !tenant.allows(scope) { throw AccessDenied.missingScope(scope) }
        return tenant
    }

    /// The operator's name; only routes behind `OperatorAuthMiddleware` call this.
    func requireOperator() throws -> String {
        guard let operatorName else { throw AuthenticationFailure.missingCredential }
        return operatorName
    }
}
