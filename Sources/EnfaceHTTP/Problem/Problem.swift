// RFC 9457 problem details: the one shape of every error Enface returns.

import Foundation
import HTTPTypes
import Hummingbird

/// An error as the API reports it: an HTTP status, a stable machine-readable `code`, a title
/// for humans, and optional detail. Rendered as `application/problem+json`.
public struct Problem: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// Stable, documented, snake_case; clients branch on this, never on `title` or `detail`.
    public var code: String
    public var title: String
    public var detail: String?
    /// Extra headers, such as `Retry-After`.
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers
    }

    static let mediaType = "application/problem+json"

    struct Body: Codable, Equatable {
        var type: String
        var title: String
        var status: Int
        var detail: String?
        var code: String
        var requestId: String
    }

    func response(requestID: String) -> Response {
        let body = Body(
            type: "https://enface.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))",
            title: title, status: Int(status.code), detail: detail, code: code, requestId: requestID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data()
        var headers = headers
        headers[.contentType] = Self.mediaType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Problem {
    static func notFound(_ detail: String? = nil) -> Problem {
        Problem(.notFound, code: "not_found", title: "Not found", detail: detail)
    }

    static let internalError = Problem(
        .internalServerError, code: "internal_error", title: "Internal server error",
        detail: "The request failed on the server; quote the request id when reporting it.")
}
