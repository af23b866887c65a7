// POST /v1/faces:batch: up to `maximumItems` faces in one request and one transaction, each
// answered on its own; and the `Idempotency-Key` both enroll routes honour.

import FaceService
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Tenancy
import WireFormats

struct BatchEnroll: Sendable {
    let registry: FaceRegistry

    /// The most faces one request may carry (its body is also held to the tenant's maxBodyBytes).
    static let maximumItems = 1_000

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.post("/faces:batch") { request, context in
            let tenant = try context.requireTenant(.facesWrite)
            let key = try IdempotentAnswers.key(request)
            var (reader, body) = try await request.fieldsAndBody(context: context, allowed: ["faces"])
            let items = Self.items(&reader)
            try reader.check()
            let parsed = try proven(items, "faces")
            let requestID = context.requestID
            let valid = parsed.compactMap { item -> FaceRegistry.BatchItem? in
                guard case .success(let item) = item else { return nil }
                return item
            }
            let render: @Sendable ([FaceRegistry.BatchResult]) throws -> StoredAnswer = { results in
                try IdempotentAnswers.stored(.ok, BatchAnswer(parsed, results: results, requestID: requestID))
            }
            let idempotency = key.map { key in
                Idempotency(key: key, fingerprint: IdempotentAnswers.fingerprint(request, tenant: tenant, body: body, fields: reader), render: render)
            }
            switch try await registry.enroll(batch: valid, context: tenant, idempotency: idempotency) {
            case .replayed(let answer):
                return IdempotentAnswers.response(answer, replayed: true)
            case .fresh(let results):
                return IdempotentAnswers.response(try render(results), replayed: false)
            }
        }
    }

    /// `faces`: 1 to `maximumItems` objects, each a person id and an embedding; an item that is
    /// not becomes that item's 422, and the others go on.
    static func items(_ reader: inout FieldReader) -> [Result<FaceRegistry.BatchItem, ValidationFailure>]? {
        guard let value = reader.value("faces", required: true) else { return nil }
        guard case .array(let values) = value, (1...maximumItems).contains(values.count) else {
            reader.fail("faces", "wrong_type", "must be an array of 1 to \(maximumItems) faces")
            return nil
        }
        return values.enumerated().map { index, value in
            var item = FieldReader(value, pointer: "/faces/\(index)", allowed: ["personId", "embedding", "embeddingBase64"])
            let personID = item.string("personId", required: true)
            if let personID, !PersonID.isValid(personID) { item.fail("personId", "invalid_format", PersonID.rule) }
            let embedding = EmbeddingField.read(&item)
            guard item.errors.isEmpty, let personID, let embedding else { return .failure(ValidationFailure(item.errors)) }
            return .success(FaceRegistry.BatchItem(personID: personID, embedding: embedding))
        }
    }
}

/// A batch's answer: how many faces were enrolled and refused, and each item's outcome in order
/// (`status` 201 with `face`, or the problem a single enroll of it would have been answered with).
struct BatchAnswer: Encodable, Sendable {
    struct Item: Encodable, Sendable {
        var status: Int
        var face: EnrollAnswer?
        var problem: Problem.Body?
    }

    var enrolled: Int
    var refused: Int
    var results: [Item]

    /// `parsed` holds every item as read, `results` one outcome for each valid item, in order.
    init(_ parsed: [Result<FaceRegistry.BatchItem, ValidationFailure>], results: [FaceRegistry.BatchResult], requestID: String) {
        var outcomes = results.makeIterator()
        self.results = parsed.map { item in
            let problem: Problem
            switch item {
            case .failure(let failure):
                problem = .invalid(failure)
            case .success:
                switch outcomes.next() {
                case .enrolled(let enrolled)?:
                    return Item(status: 201, face: EnrollAnswer(enrolled, box: nil))
                case .refused(let error)?:
                    problem = error.problem
                case nil:
                    problem = .internalError
                }
            }
            return Item(status: Int(problem.status.code), problem: problem.value(requestID: requestID))
        }
        enrolled = self.results.count { $0.status == 201 }
        refused = self.results.count - enrolled
    }
}

/// The `Idempotency-Key` header, a request's fingerprint, and answers as stored and replayed.
enum IdempotentAnswers {
    static let keyHeader = HTTPField.Name("Idempotency-Key")!
    /// Set on an answer that a retry received from the store: nothing was enrolled again.
    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!

    /// The request's key, checked; nil when it sends none.
    static func key(_ request: Request) throws -> String? {
        guard let key = request.headers[keyHeader] else { return nil }
        guard Idempotency<Void>.isValidKey(key) else { throw RequestError.invalidIdempotencyKey }
        return key
    }

    /// What identifies a request: its bytes, or for a form what it carries (most clients choose
    /// a new boundary for every sending, so a retried form's bytes differ).
    static func fingerprint(_ request: Request, tenant: TenantContext, body: ByteBuffer, fields: FieldReader) -> Data {
        let method = request.method.rawValue, path = request.uri.path
        guard request.headers[.contentType]?.lowercased().hasPrefix("multipart/form-data") == true else {
            return Idempotency<Void>.fingerprint(actor: tenant.actor, method: method, path: path, body: body.readableBytesView)
        }
        return Idempotency<Void>.fingerprint(actor: tenant.actor, method: method, path: path, form: fields.object, files: fields.files)
    }

    /// An answer as the context's encoder writes it.
    static func stored(_ status: HTTPResponse.Status, _ answer: some Encodable) throws -> StoredAnswer {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return StoredAnswer(status: Int(status.code), body: try encoder.encode(answer))
    }

    static func response(_ answer: StoredAnswer, replayed: Bool, location: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let location { headers[.location] = location }
        if replayed { headers[replayedHeader] = "true" }
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
