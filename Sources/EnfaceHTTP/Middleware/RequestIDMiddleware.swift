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
            let generated = Self.padded(context.id)
            context.logger[metadataKey: "hb.request.id"] = .string(generated)
            context.requestID = generated
        }
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestID
        return response
    }

    /// Hummingbird's id is a per-process random prefix in unpadded hex and a padded counter, so
    /// one process in sixteen makes 31-character ids. Ours are always 32 hex digits.
    static func padded(_ id: String) -> String {
        id.count >= 32 ? id : String(repeating: "0", count: 32 - id.count) + id
    }

    /// A fresh id for an answer given before any request was parsed (32 hex digits).
    static func generated() -> String {
        (0..<2).map { _ in
            let hex = String(UInt64.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    static func isAcceptable(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x3A
            }
    }
}
