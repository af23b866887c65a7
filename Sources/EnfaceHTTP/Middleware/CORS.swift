// Browsers ask before calling from another origin (a CORS preflight: OPTIONS with Origin and
// Access-Control-Request-Method). A preflight carries no credential, so the tenant is known only
// when the host names it (ENFACE_TENANT_HOST_SUFFIX): then its allowed origins decide. Otherwise
// the preflight is answered for any well-formed origin, and the real response carries
// Access-Control-Allow-Origin only for the credential's tenant's allowed origins (see
// TenantAuthMiddleware), so a browser lets a page read an answer only if that tenant allows the
// page's origin. Nothing is lost by answering the preflight: credentials are sent in headers, not
// cookies, so a page can only send what it already holds.

import Foundation
import HTTPTypes
import Hummingbird
import Tenancy

enum CORS {
    /// Headers a browser page may send.
    static let allowedHeaders = "Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-ID"

    /// The answer to OPTIONS on a path served with `methods`. `tenantOrigins` is the host's
    /// tenant's allowed origins when the host names one (nil when it names none).
    static func preflight(_ request: Request, methods: [HTTPRequest.Method], tenantOrigins: [String]?) -> Response {
        let allow = methods.map(\.rawValue).joined(separator: ", ")
        var headers: HTTPFields = [.allow: allow, .vary: "Origin"]
        guard let origin = request.headers[.origin], request.headers[.accessControlRequestMethod] != nil else {
            // A plain OPTIONS: what the path allows.
            return Response(status: .noContent, headers: headers)
        }
        let allowed = tenantOrigins.map { $0.contains(origin) } ?? TenantSettings.isOrigin(origin)
        if allowed {
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = allow
            headers[.accessControlAllowHeaders] = allowedHeaders
            headers[.accessControlExposeHeaders] = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-ID"
            headers[.accessControlMaxAge] = "600"
        }
        return Response(status: .noContent, headers: headers)
    }
}

extension Router<EnfaceRequestContext> {
    /// For every path served: OPTIONS answers preflights (without a credential, before any
    /// gate), and every other method is 405 with `Allow`, not 404.
    func addPreflightsAndMethodNotAllowed(
        tenantOrigins: @escaping @Sendable (Request, EnfaceRequestContext) async -> [String]?
    ) {
        let byPath = Dictionary(grouping: routes, by: { $0.path.description })
        for (_, routes) in byPath.sorted(by: { $0.key < $1.key }) {
            guard let path = routes.first?.path else { continue }
            let methods = routes.map(\.method)
            let listed = (methods + [.options]).sorted { $0.rawValue < $1.rawValue }
            if !methods.contains(.options) {
                on(path, method: .options) { request, context in
                    CORS.preflight(request, methods: listed, tenantOrigins: await tenantOrigins(request, context))
                }
            }
            for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete] where !methods.contains(method) {
                on(path, method: method) { _, _ -> Response in
                    throw Problem(
                        .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
                        detail: "\(path) answers \(listed.map(\.rawValue).joined(separator: ", ")).",
                        headers: [.allow: listed.map(\.rawValue).joined(separator: ", ")])
                }
            }
        }
    }
}
