// Every domain error, mapped to its status and stable code: the one place errors meet HTTP.

import FaceService
import HTTPTypes
import Hummingbird
import Tenancy
import WireFormats

extension TenancyError: ProblemConvertible {
    var problem: Problem {
        switch self {
        case .tenantNotFound: .notFound("No such tenant.")
        case .keyNotFound: .notFound("No such key.")
        case .slugTaken(let slug):
            Problem(.conflict, code: "slug_taken", title: "Slug taken", detail: "A tenant named \(slug) exists already.")
        case .invalidTransition(let error):
            Problem(.conflict, code: "invalid_transition", title: "Not allowed in this state", detail: error.detail)
        case .tenantDeleted:
            Problem(.conflict, code: "tenant_deleted", title: "Tenant deleted", detail: "A deleted tenant cannot change.")
        case .invalid(let failure): .invalid(failure)
        case .scopesNotGrantable(let scopes):
            Problem(
                .forbidden, code: "scope_not_grantable", title: "Scopes beyond your own",
                detail: "A key cannot grant scopes its creator lacks: \(scopes.map(\.rawValue).joined(separator: ", ")).")
        }
    }
}

extension FaceError: ProblemConvertible {
    var problem: Problem {
        switch self {
        case .dimensionMismatch(let expected, let actual):
            Problem(
                .unprocessableContent, code: "dimension_mismatch", title: "Wrong embedding length",
                detail: "This tenant's model makes \(expected)-dimensional embeddings; this one has \(actual).")
        case .invalidEmbedding(let why):
            Problem(.unprocessableContent, code: "invalid_embedding", title: "Unusable embedding", detail: "The embedding \(why).")
        case .personNotFound:
            Problem(.notFound, code: "person_not_found", title: "No such person", detail: "This tenant has no person with this id.")
        case .faceNotFound:
            Problem(.notFound, code: "face_not_found", title: "No such face", detail: "This tenant has no face with this id.")
        case .maxFacesPerPerson(let limit):
            Problem(.conflict, code: "max_faces_per_person", title: "Person full", detail: "A person may have at most \(limit) faces.")
        case .possibleDuplicate(let duplicates):
            Problem(
                .conflict, code: "possible_duplicate", title: "Possible duplicate",
                detail: "The face matches \(duplicates.count == 1 ? "another person" : "\(duplicates.count) other persons") at or above the threshold; this tenant refuses such enrolls (duplicateCheck: refuse).",
                possibleDuplicateCount: duplicates.count, possibleDuplicates: duplicates.named.map(Problem.Duplicate.list))
        case .faceQuotaExceeded(let limit):
            Problem(.conflict, code: "face_quota_exceeded", title: "Face quota used up", detail: "This tenant may hold at most \(limit) faces.")
        case .idempotencyKeyReused:
            Problem(
                .unprocessableContent, code: "idempotency_key_reused", title: "Idempotency key reused",
                detail: "This Idempotency-Key was sent before with another request (body, path or credential); use a new key for a new request.")
        case .searchBusy:
            Problem(
                .tooManyRequests, code: "search_busy", title: "Too many searches waiting",
                detail: "This tenant's searches fill their queue on this node; retry shortly (other tenants are not held up by them).",
                headers: [.retryAfter: "1"])
        case .tenantKeyUnavailable:
            Problem(
                .serviceUnavailable, code: "tenant_key_unavailable", title: "Tenant key unavailable",
                detail: "This tenant's key cannot be opened; contact your operator.")
        case .modelHasNoExtractor(let model):
            Problem(
                .unprocessableContent, code: "model_has_no_extractor", title: "Photos not accepted",
                detail: "This tenant's model (\(model)) has no extractor in Enface: send embeddings, not images.")
        case .invalidImage(let why):
            Problem(.unprocessableContent, code: "invalid_image", title: "Unreadable image", detail: "The image is not a JPEG or PNG that decodes: \(why).")
        case .imageDimensionsTooLarge(let width, let height, let limit):
            Problem(
                .contentTooLarge, code: "image_too_large", title: "Image too large",
                detail: "The image claims \(width) × \(height) pixels; at most \(limit) pixels are decoded.")
        case .noFace:
            Problem(.unprocessableContent, code: "no_face", title: "No face", detail: "No face was found in the image.", faces: [])
        case .multipleFaces(let boxes):
            Problem(
                .unprocessableContent, code: "multiple_faces", title: "Several faces",
                detail: "Enrolling needs a photo of exactly one face; \(boxes.count) were found.",
                faces: boxes.map(Problem.Face.init))
        case .extractorBusy:
            Problem(
                .serviceUnavailable, code: "extractor_busy", title: "Busy",
                detail: "Every face engine is busy and the line is full; retry shortly.", headers: [.retryAfter: "1"])
        case .extractorUnavailable:
            Problem(
                .serviceUnavailable, code: "extractor_unavailable", title: "Extractor unavailable",
                detail: "This server has no weights for the face model; its operator must run models/fetch.")
        }
    }
}

extension ValidationFailure: ProblemConvertible {
    var problem: Problem { .invalid(self) }
}

extension AuthenticationFailure: ProblemConvertible {
    var problem: Problem { .unauthenticated }
}

extension AccessDenied: ProblemConvertible {
    var problem: Problem {
        switch self {
        case .tenantPending:
            Problem(.forbidden, code: "tenant_pending", title: "Tenant not active yet", detail: "An operator must activate this tenant first.")
        case .tenantSuspended:
            Problem(.forbidden, code: "tenant_suspended", title: "Tenant suspended", detail: "This tenant is suspended; contact your operator.")
        case .missingScope(let scope):
            Problem(.forbidden, code: "insufficient_scope", title: "Missing scope", detail: "This call needs the scope \(scope.rawValue).")
        case .hostMismatch:
            Problem(.forbidden, code: "host_mismatch", title: "Wrong tenant host", detail: "This credential belongs to another tenant than this host.")
        }
    }
}

/// Errors of reading a request, before any domain logic.
enum RequestError: Error, ProblemConvertible {
    case unsupportedMediaType
    case malformedJSON(JSONSyntaxError)
    case malformedForm
    case payloadTooLarge(limit: Int)
    case invalidQuery(FieldError)
    /// Tenants are bound to host names here, and the request names no host.
    case hostRequired
    /// An `Idempotency-Key` that is not 1–255 printable ASCII characters.
    case invalidIdempotencyKey

    var problem: Problem {
        switch self {
        case .unsupportedMediaType:
            Problem(.unsupportedMediaType, code: "unsupported_media_type", title: "Unsupported media type", detail: "Send application/json.")
        case .malformedJSON(.duplicateKey(let pointer)):
            // Never "the first (or last) one wins": a proxy that checked the other would be fooled.
            Problem(
                .badRequest, code: "duplicate_key", title: "Duplicate key",
                detail: "The body names \(pointer) more than once.")
        case .malformedJSON(.tooDeep):
            Problem(
                .badRequest, code: "malformed_json", title: "Malformed JSON",
                detail: "The body nests deeper than \(JSONParser.maximumDepth) levels.")
        case .malformedJSON(.invalid(let offset, let reason)):
            Problem(
                .badRequest, code: "malformed_json", title: "Malformed JSON",
                detail: "The body is not valid JSON: \(reason) at byte \(offset).")
        case .malformedForm:
            Problem(
                .badRequest, code: "malformed_form", title: "Malformed form",
                detail: "The body is not well-formed multipart/form-data (one part per field, a boundary that closes it).")
        case .payloadTooLarge(let limit):
            Problem(.contentTooLarge, code: "payload_too_large", title: "Request body too large", detail: "The limit is \(limit) bytes.")
        case .invalidQuery(let error): .invalid(ValidationFailure([error]))
        case .hostRequired:
            Problem(
                .badRequest, code: "host_required", title: "Host required",
                detail: "This server binds tenants to host names: send the Host header.")
        case .invalidIdempotencyKey:
            Problem(
                .badRequest, code: "invalid_idempotency_key", title: "Invalid Idempotency-Key",
                detail: "An Idempotency-Key is 1 to 255 printable ASCII characters (a UUID is a good one).")
        }
    }
}

extension DatabaseUnavailable: ProblemConvertible {
    /// The work could not be done now. Searches and verifies of tenants in memory never come here:
    /// they need no database.
    var problem: Problem {
        Problem(
            .serviceUnavailable, code: "database_unavailable", title: "Database unavailable",
            detail: "The database cannot be reached; nothing was changed. Retry shortly.", headers: [.retryAfter: "2"])
    }
}
