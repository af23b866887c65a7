// The face API, /v1: enroll, persons, delete, verify (1:1), search (1:N), compare.

import FaceImages
import FaceService
import Foundation
import HTTPTypes
import Hummingbird
import Tenancy
import WireFormats

struct FaceController: Sendable {
    let registry: FaceRegistry
    let photos: FacePhotos
    let metrics: EnfaceMetrics

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.post("/persons/{personId}/faces") { request, context in
            let tenant = try context.requireTenant(.facesWrite)
            let personID = try context.personID()
            let key = try IdempotentAnswers.key(request)
            var (reader, body) = try await request.fieldsAndBody(context: context, allowed: ["embedding", "embeddingBase64", "image"])
            let probe = ProbeField.read(&reader)
            try reader.check()
            let location = "/v1/persons/\(EnfaceRequestContext.pathSegment(personID))"
            let fingerprint = key.map { _ in IdempotentAnswers.fingerprint(request, tenant: tenant, body: body, fields: reader) }
            // The answer, as sent and as stored with the key: where the face was, for a photo.
            func idempotency(box: FaceBox?) -> Idempotency<FaceRegistry.Enrolled>? {
                guard let key, let fingerprint else { return nil }
                return Idempotency(key: key, fingerprint: fingerprint, render: { try IdempotentAnswers.stored(.created, EnrollAnswer($0, box: box)) })
            }
            let embedding: [Float]
            var box: FaceBox?
            switch try proven(probe, "embedding") {
            case .embedding(let vector):
                embedding = vector
            case .image(let bytes):
                // A retry of a photo's enroll is answered before the photo is analysed again.
                if let answer = try await registry.storedAnswer(idempotency(box: nil), tenant: tenant.tenantID) {
                    return IdempotentAnswers.response(answer, replayed: true, location: location)
                }
                let face = try await analyze { try await photos.singleFace(in: bytes, tenant: tenant.tenant) }
                embedding = face.embedding
                box = face.box
            }
            switch try await registry.enroll(person: personID, embedding: embedding, context: tenant, idempotency: idempotency(box: box)) {
            case .replayed(let answer):
                return IdempotentAnswers.response(answer, replayed: true, location: location)
            case .fresh(let enrolled):
                return IdempotentAnswers.response(
                    try IdempotentAnswers.stored(.created, EnrollAnswer(enrolled, box: box)), replayed: false, location: location)
            }
        }
        BatchEnroll(registry: registry).addRoutes(to: group)
        group.get("/persons") { request, context in
            let tenant = try context.requireTenant(.facesRead)
            let query = Query(request)
            let limit = try query.limit(default: 100, maximum: 1_000)
            let after = query["after"]
            if let after, !PersonID.isValid(after) {
                throw RequestError.invalidQuery(FieldError(pointer: "?after", code: "invalid_format", detail: "is not a person id"))
            }
            let persons = try await registry.persons(after: after, limit: limit + 1, context: tenant)
            return Page("persons", read: persons, limit: limit, item: PersonAnswer.init, cursor: \.id)
        }
        group.get("/persons/{personId}") { _, context in
            let tenant = try context.requireTenant(.facesRead)
            let (person, faces) = try await registry.person(try context.personID(), context: tenant)
            return PersonDetail(person, faces: faces)
        }
        group.delete("/persons/{personId}") { _, context in
            let tenant = try context.requireTenant(.facesWrite)
            try await registry.deletePerson(try context.personID(), context: tenant)
            return HTTPResponse.Status.noContent
        }
        group.delete("/faces/{faceId}") { _, context in
            let tenant = try context.requireTenant(.facesWrite)
            guard let text = context.pathParameter("faceId"), let id = UUID(uuidString: text) else { throw FaceError.faceNotFound }
            try await registry.deleteFace(id, context: tenant)
            return HTTPResponse.Status.noContent
        }
        group.post("/verify") { request, context in
            let tenant = try context.requireTenant(.verify)
            var reader = try await request.fields(context: context, allowed: ["personId", "embedding", "embeddingBase64", "image"])
            let personID = reader.string("personId", required: true)
            if let personID, !PersonID.isValid(personID) { reader.fail("personId", "invalid_format", PersonID.rule) }
            let probe = ProbeField.read(&reader)
            try reader.check()
            let person = try proven(personID, "personId")
            switch try proven(probe, "embedding") {
            case .embedding(let embedding):
                let result = try await registry.verify(person: person, embedding: embedding, context: tenant)
                return VerifyAnswer(person: person, best: result)
            case .image(let bytes):
                // Every face of the photo is verified; the answer is the best one's, and each face's.
                let faces = try await analyze { try await photos.faces(in: bytes, tenant: tenant.tenant) }
                let (best, each) = try await registry.verify(person: person, faces: faces, context: tenant)
                return VerifyAnswer(
                    person: person, best: best.verification, faces: each.map { VerdictAnswer($0.verification, face: $0.box) })
            }
        }
        group.post("/search") { request, context in
            let tenant = try context.requireTenant(.search)
            let most = max(1, tenant.tenant.settings.searchLimitMax)
            var reader = try await request.fields(context: context, allowed: ["embedding", "embeddingBase64", "image", "limit", "minScore"])
            let probe = ProbeField.read(&reader)
            let limit = reader.integer("limit", in: 1...most) ?? min(10, most)
            let minScore = reader.number("minScore", in: -1...1)
            try reader.check()
            switch try proven(probe, "embedding") {
            case .embedding(let embedding):
                let found = try await registry.search(embedding: embedding, limit: limit, minScore: minScore, context: tenant)
                return SearchAnswer(matches: found.matches.map(MatchAnswer.init), threshold: found.threshold, limit: limit)
            case .image(let bytes):
                // Every face in the photo is searched, not only the largest.
                let faces = try await analyze { try await photos.faces(in: bytes, tenant: tenant.tenant) }
                let found = try await registry.search(faces: faces, limit: limit, minScore: minScore, context: tenant)
                return SearchAnswer(
                    faces: found.each.map { face in
                        SearchAnswer.FaceMatches(
                            box: face.box.edges, detectionScore: face.box.roundedScore, matches: face.matches.map(MatchAnswer.init))
                    },
                    threshold: found.threshold, limit: limit)
            }
        }
        group.post("/compare") { request, context in
            let tenant = try context.requireTenant(.verify)
            var reader = try await request.fields(context: context, allowed: ["a", "b", "imageA", "imageB"])
            let a = ProbeField.read(&reader, embedding: "a", base64: nil, image: "imageA")
            let b = ProbeField.read(&reader, embedding: "b", base64: nil, image: "imageB")
            try reader.check()
            // A photo's side must hold one face, as an enroll's does: picking one of a group
            // photo's faces would answer for someone the client did not mean (422 multiple_faces,
            // with every box found). The answer says where the face was.
            func side(_ probe: Probe) async throws -> (embedding: [Float], box: FaceBox?) {
                switch probe {
                case .embedding(let vector): return (vector, nil)
                case .image(let bytes):
                    let face = try await analyze { try await photos.singleFace(in: bytes, tenant: tenant.tenant) }
                    return (face.embedding, face.box)
                }
            }
            let (first, second) = (try await side(proven(a, "a")), try await side(proven(b, "b")))
            let result = try registry.compare(first.embedding, second.embedding, context: tenant)
            return CompareAnswer(
                score: result.score.shortestDecimal, match: result.match, threshold: result.threshold.value,
                thresholdSource: result.threshold.source,
                faceA: first.box.map(FaceBoxAnswer.init), faceB: second.box.map(FaceBoxAnswer.init))
        }
    }

    /// Runs a photo's analysis, counting its outcome (its stages are counted as it completes).
    func analyze<Result>(_ work: () async throws -> Result) async throws -> Result {
        metrics.imageQueue(photos.pool.queueDepth)
        do {
            let result = try await work()
            metrics.image(outcome: "ok")
            return result
        } catch {
            metrics.image(outcome: (error as? FaceError).map(Self.outcome) ?? "error")
            throw error
        }
    }

    static func outcome(_ error: FaceError) -> String {
        switch error {
        case .extractorBusy: "busy"
        case .invalidImage, .imageDimensionsTooLarge: "invalid"
        case .noFace, .multipleFaces: "faces"
        default: "error"
        }
    }

}

/// A client's person id: 1–128 of `[A-Za-z0-9._:@-]`.
enum PersonID {
    static let rule = "must be 1–128 of A-Z a-z 0-9 . _ : @ -"

    static func isValid(_ text: String) -> Bool {
        // Bytes, not a regex: a regex literal is parsed again on every call (11 % of a bulk enroll).
        (1...128).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }
}


/// What a face request compares: an embedding, or a photo to find faces in.
enum Probe {
    case embedding([Float])
    case image([UInt8])
}

/// An embedding (`embedding` | `embeddingBase64`) or a photo (`image`: base64 of a JPEG or PNG
/// in JSON, a file part in a form): exactly one.
enum ProbeField {
    static func read(
        _ reader: inout FieldReader, embedding: String = "embedding", base64: String? = "embeddingBase64", image: String = "image"
    ) -> Probe? {
        guard reader.contains(image) else {
            return EmbeddingField.read(&reader, field: embedding, base64Field: base64).map(Probe.embedding)
        }
        if reader.contains(embedding) || base64.map({ reader.contains($0) }) == true {
            reader.fail(image, "not_allowed", "send \(embedding) or \(image), not both")
            return nil
        }
        if let bytes = reader.file(image) { return .image(bytes) }
        guard case .string(let text) = reader.value(image), let data = Data(base64Encoded: text) else {
            reader.fail(image, "invalid_format", "must be base64 of a JPEG or PNG")
            return nil
        }
        return .image(Array(data))
    }
}

/// An embedding as JSON numbers (`embedding`) or base64 little-endian float32 (`embeddingBase64`):
/// exactly one of them. Its length and values are checked against the tenant's model later.
enum EmbeddingField {
    static let maximumLength = 4_096

    static func read(_ reader: inout FieldReader, field: String = "embedding", base64Field: String? = "embeddingBase64") -> [Float]? {
        let numbers = reader.value(field)
        let encoded = base64Field.flatMap { name in reader.value(name).map { (name, $0) } }
        switch (numbers, encoded) {
        case (nil, nil):
            // A file sent as either has already been named (`wrong_type`); only silence is missing.
            if !reader.contains(field), !(base64Field.map(reader.contains) ?? false) {
                reader.fail(field, "required", base64Field.map { "send \(field) or \($0)" } ?? "is required")
            }
            return nil
        case (.some, .some((let base64Field, _))):
            reader.fail(base64Field, "not_allowed", "send \(field) or \(base64Field), not both")
            return nil
        case (let value?, nil):
            guard case .array(let items) = value, (1...maximumLength).contains(items.count) else {
                reader.fail(field, "wrong_type", "must be an array of 1 to \(maximumLength) numbers")
                return nil
            }
            var floats: [Float] = []
            floats.reserveCapacity(items.count)
            for item in items {
                guard case .number(let number) = item else {
                    reader.fail(field, "wrong_type", "must be an array of numbers")
                    return nil
                }
                floats.append(Float(number))
            }
            return floats
        case (nil, (let base64Field, let value)?):
            guard case .string(let text) = value, let data = Data(base64Encoded: text), data.count % 4 == 0,
                  (4...(maximumLength * 4)).contains(data.count)
            else {
                reader.fail(base64Field, "invalid_format", "must be base64 of little-endian float32 values")
                return nil
            }
            return data.withUnsafeBytes { raw in
                (0..<data.count / 4).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                }
            }
        }
    }
}

extension EnfaceRequestContext {
    /// The `{personId}` path segment, checked.
    func personID() throws -> String {
        guard let text = pathParameter("personId"), PersonID.isValid(text) else {
            throw ValidationFailure(pointer: "/personId", code: "invalid_format", detail: PersonID.rule)
        }
        return text
    }
}
