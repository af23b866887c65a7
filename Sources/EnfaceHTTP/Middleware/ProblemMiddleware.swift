// Turns every error thrown below it into a problem+json response: the one place errors meet HTTP.

import FaceService
import Foundation
import Hummingbird
import Logging

/// Catches everything the routes (and Hummingbird itself: unknown routes, oversized bodies)
/// throw. Known errors become their documented problem; anything else is a 500 whose cause is
/// logged by type and SQLSTATE only, since error descriptions can quote request data.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = EnfaceRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Self.problem(for: error, logger: context.logger)
            return problem.response(requestID: context.requestID)
        }
    }

    static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as any ProblemConvertible:
            return error.problem
        case let error as HTTPError:
            return problem(for: error)
        default:
            if let metadata = databaseErrorMetadata(error) {
                logger.error("database error", metadata: metadata)
                return .internalError
            }
            logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
            return .internalError
        }
    }

    /// Hummingbird's own errors, mapped to stable codes.
    static func problem(for error: HTTPError) -> Problem {
        switch error.status {
        case .notFound:
            return .notFound("No route matches this method and path.")
        case .contentTooLarge:
            return Problem(.contentTooLarge, code: "payload_too_large", title: "Request body too large")
        case .badRequest:
            return Problem(.badRequest, code: "bad_request", title: "Bad request", detail: error.body)
        case .unsupportedMediaType:
            return Problem(.unsupportedMediaType, code: "unsupported_media_type", title: "Unsupported media type")
        default:
            return Problem(
                error.status, code: error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                title: error.status.reasonPhrase, detail: error.body, headers: error.headers)
        }
    }
}

/// A domain error that knows its problem. Each module's errors conform in EnfaceHTTP, so the
/// mapping to HTTP lives here and nowhere else.
protocol ProblemConvertible: Error {
    var problem: Problem { get }
}
