// RFC 9457 problem details: the one shape of every error Enface returns.

import Foundation
import HTTPTypes
import Hummingbird
import Tenancy
import WireFormats

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
    /// For invalid input: each offending field, by JSON pointer.
    public var errors: [FieldError]?
    /// For a photo with the wrong number of faces: the faces found.
    public var faces: [Face]?

    /// For an enroll refused as a possible duplicate: how many other persons it matched, and
    /// (to a caller that may search) who, best first.
    public var possibleDuplicateCount: Int?
    public var possibleDuplicates: [Duplicate]?

    /// Another person an enrolled face matched, as enroll answers name one.
    public struct Duplicate: Codable, Sendable, Equatable {
        var personId: String
        var score: Double
    }

    /// A face found in the photo, as face answers describe one (`FaceBoxAnswer` is this type).
    /// Left, top, right, bottom in the upright photo's pixels, and the detector's score.
    public struct Face: Codable, Sendable, Equatable {
        var box: [Int]
        var detectionScore: Double
    }

    public init(
        _ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, headers: HTTPFields = [:],
        errors: [FieldError]? = nil, faces: [Face]? = nil, possibleDuplicateCount: Int? = nil,
        possibleDuplicates: [Duplicate]? = nil
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers
        self.errors = errors
        self.faces = faces
        self.possibleDuplicateCount = possibleDuplicateCount
        self.possibleDuplicates = possibleDuplicates
    }

    static let mediaType = "application/problem+json"

    struct Body: Codable, Equatable {
        var type: String
        var title: String
        var status: Int
        var detail: String?
        var code: String
        var requestId: String
        var errors: [FieldError]?
        var faces: [Face]?
        var possibleDuplicateCount: Int?
        var possibleDuplicates: [Duplicate]?
    }

    func response(requestID: String) -> Response {
        Response(status: status, headers: responseHeaders, body: .init(byteBuffer: body(requestID: requestID)))
    }

    /// The problem as JSON, naming the request it answers.
    func body(requestID: String) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: (try? encoder.encode(value(requestID: requestID))) ?? Data())
    }

    /// The problem as its JSON says it (one item's answer inside a batch's, too).
    func value(requestID: String) -> Body {
        Body(
            type: "https://enface.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))",
            title: title, status: Int(status.code), detail: detail, code: code, requestId: requestID, errors: errors, faces: faces,
            possibleDuplicateCount: possibleDuplicateCount, possibleDuplicates: possibleDuplicates)
    }

    /// `headers` and the problem's media type; never cached.
    var responseHeaders: HTTPFields {
        var headers = headers
        headers[.contentType] = Self.mediaType
        headers[.cacheControl] = "no-store"
        return headers
    }
}

extension Problem {
    static func notFound(_ detail: String? = nil) -> Problem {
        Problem(.notFound, code: "not_found", title: "Not found", detail: detail)
    }

    static func invalid(_ failure: ValidationFailure) -> Problem {
        Problem(
            .unprocessableContent, code: "validation_failed", title: "Invalid request",
            detail: failure.errors.count == 1
                ? "\(failure.errors[0].pointer) \(failure.errors[0].detail)" : "\(failure.errors.count) fields are invalid",
            errors: failure.errors)
    }

    /// The one answer to every credential that proves nothing: identical but for the request id.
    static let unauthenticated = Problem(
        .unauthorized, code: "unauthenticated", title: "Not authenticated",
        detail: "Send a valid API key (X-API-Key or Authorization: Bearer) or token.",
        headers: [.wwwAuthenticate: "Bearer"])

    static let internalError = Problem(
        .internalServerError, code: "internal_error", title: "Internal server error",
        detail: "The request failed on the server; quote the request id when reporting it.")
}
