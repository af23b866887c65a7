// Browsers ask before calling from another origin. A preflight carries no credential, so it
// cannot know the tenant: it answers generously, and the real response carries
// Access-Control-Allow-Origin only for the tenant's allowed origins (see TenantAuthMiddleware).

import HTTPTypes
import Hummingbird

enum CORS {
    static func preflight(_ request: Request) -> Response {
        var headers: HTTPFields = [
            .accessControlAllowMethods: "GET, POST, PATCH, DELETE",
            .accessControlAllowHeaders: "Authorization, X-API-Key, Content-Type, X-Request-ID",
            .accessControlMaxAge: "600",
            .vary: "Origin",
        ]
        if let origin = request.headers[.origin] { headers[.accessControlAllowOrigin] = origin }
        return Response(status: .noContent, headers: headers)
    }
}
