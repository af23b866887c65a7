// Gives every request an id: in the logs, in the `X-Request-ID` header and in error bodies.

import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-ID")!
}

/// Adopts the caller's `X-Request-ID` when it is a short, plain token (so a proxy's id carries
/// through), otherwise uses the id Hummingbird generated. Never trusts it for anything else.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = EnfaceRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let inbound = request.headers[.requestID], Self.isAcceptable(inbound) {
            context.logger[metadataKey: "hb.request.id"] = .string(inbound)
            context.requestID = inbound
        } else {
            context.requestID = context.id
        }
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestID
        return response
    }

    static func isAcceptable(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x3A
            }
    }
}
