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
            var reader = FieldReader(
                try await request.json(context: context, forms: true), allowed: ["embedding", "embeddingBase64", "image"])
            let probe = ProbeField.read(&reader)
            try reader.check()
            var body: [String: JSONValue] = [:]
            let embedding: [Float]
            switch try proven(probe, "embedding") {
            case .embedding(let vector):
                embedding = vector
            case .image(let bytes):
                let face = try await analyze { try await photos.singleFace(in: bytes, tenant: tenant.tenant) }
                embedding = face.embedding
                body["face"] = .object(face.box.answer)
            }
            let enrolled = try await registry.enroll(person: personID, embedding: embedding, context: tenant)
            body["faceId"] = .string(enrolled.faceID.uuidString.lowercased())
            body["personId"] = .string(enrolled.personID)
            body["faceCount"] = .number(Double(enrolled.faceCount))
            return Answer(status: .created, body: .object(body))
        }
        group.get("/persons") { request, context in
            let tenant = try context.requireTenant(.facesRead)
            let query = Query(request)
            let limit = try query.limit(default: 100, maximum: 1_000)
            let after = query["after"]
            if let after, !PersonID.isValid(after) {
                throw RequestError.invalidQuery(FieldError(pointer: "?after", code: "invalid_format", detail: "is not a person id"))
            }
            let persons = try await registry.persons(after: after, limit: limit, context: tenant)
            return [
                "persons": .array(persons.map(Self.person)),
                "next": persons.count == limit ? persons.last.map { .string($0.id) } ?? .null : .null,
            ] as JSONValue
        }
        group.get("/persons/{personId}") { _, context in
            let tenant = try context.requireTenant(.facesRead)
            let (person, faces) = try await registry.person(try context.personID(), context: tenant)
            var body = Self.personFields(person)
            body["faces"] = .array(faces.map { face in
                ["faceId": .string(face.id.uuidString.lowercased()), "createdAt": .string(face.createdAt.formatted(.iso8601))]
            })
            return JSONValue.object(body)
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
            var reader = FieldReader(
                try await request.json(context: context, forms: true), allowed: ["personId", "embedding", "embeddingBase64", "image"])
            let personID = reader.string("personId", required: true)
            if let personID, !PersonID.isValid(personID) { reader.fail("personId", "invalid_format", PersonID.rule) }
            let probe = ProbeField.read(&reader)
            try reader.check()
            func verification(_ result: FaceRegistry.Verification) -> [String: JSONValue] {
                [
                    "match": .bool(result.match), "score": Self.score(result.score),
                    "faceId": .string(result.faceID.uuidString.lowercased()),
                ]
            }
            let person = try proven(personID, "personId")
            switch try proven(probe, "embedding") {
            case .embedding(let embedding):
                let result = try await registry.verify(person: person, embedding: embedding, context: tenant)
                return JSONValue.object(
                    verification(result).merging(["threshold": .number(result.threshold), "personId": .string(person)]) { $1 })
            case .image(let bytes):
                // Every face of the photo is verified; the answer is the best one's, and each face's.
                let faces = try await analyze { try await photos.faces(in: bytes, tenant: tenant.tenant) }
                let (best, each) = try await registry.verify(person: person, faces: faces, context: tenant)
                var body = verification(best.verification)
                body["threshold"] = .number(best.verification.threshold)
                body["personId"] = .string(person)
                body["faces"] = .array(each.map { face in
                    .object(verification(face.verification).merging(face.box.answer) { $1 })
                })
                return JSONValue.object(body)
            }
        }
        group.post("/search") { request, context in
            let tenant = try context.requireTenant(.search)
            let most = max(1, tenant.tenant.settings.searchLimitMax)
            var reader = FieldReader(
                try await request.json(context: context, forms: true),
                allowed: ["embedding", "embeddingBase64", "image", "limit", "minScore"])
            let probe = ProbeField.read(&reader)
            let limit = reader.integer("limit", in: 1...most) ?? min(10, most)
            let minScore = reader.number("minScore", in: -1...1)
            try reader.check()
            func answer(_ matches: [Match]) -> JSONValue {
                .array(matches.map { match in
                    [
                        "personId": .string(match.personID), "faceId": .string(match.faceID.uuidString.lowercased()),
                        "score": Self.score(match.score),
                    ]
                })
            }
            switch try proven(probe, "embedding") {
            case .embedding(let embedding):
                let found = try await registry.search(embedding: embedding, limit: limit, minScore: minScore, context: tenant)
                return ["matches": answer(found.matches), "threshold": .number(found.threshold), "limit": .number(Double(limit))] as JSONValue
            case .image(let bytes):
                // Every face in the photo is searched, not only the largest.
                let faces = try await analyze { try await photos.faces(in: bytes, tenant: tenant.tenant) }
                let found = try await registry.search(faces: faces, limit: limit, minScore: minScore, context: tenant)
                let answers = found.each.map { face in JSONValue.object(face.box.answer.merging(["matches": answer(face.matches)]) { $1 }) }
                return ["faces": .array(answers), "threshold": .number(found.threshold), "limit": .number(Double(limit))] as JSONValue
            }
        }
        group.post("/compare") { request, context in
            let tenant = try context.requireTenant(.verify)
            var reader = FieldReader(try await request.json(context: context, forms: true), allowed: ["a", "b", "imageA", "imageB"])
            let a = ProbeField.read(&reader, embedding: "a", base64: nil, image: "imageA")
            let b = ProbeField.read(&reader, embedding: "b", base64: nil, image: "imageB")
            try reader.check()
            // A photo's side is its best-scoring face; the answer says which box that was.
            var body: [String: JSONValue] = [:]
            func side(_ probe: Probe, _ name: String) async throws -> [Float] {
                switch probe {
                case .embedding(let vector): return vector
                case .image(let bytes):
                    let best = try FaceRegistry.representative(of: try await analyze { try await photos.faces(in: bytes, tenant: tenant.tenant) })
                    body[name] = .object(best.box.answer)
                    return best.embedding
                }
            }
            let result = try registry.compare(try await side(proven(a, "a"), "faceA"), try await side(proven(b, "b"), "faceB"), context: tenant)
            body["score"] = Self.score(result.score)
            body["match"] = .bool(result.match)
            body["threshold"] = .number(result.threshold)
            return JSONValue.object(body)
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

    /// A float score as the shortest decimal that reads back as the same float (0.8123, not
    /// 0.81230002641677856).
    static func score(_ score: Float) -> JSONValue { .number(Double("\(score)") ?? Double(score)) }

    static func person(_ person: Person) -> JSONValue { .object(personFields(person)) }

    static func personFields(_ person: Person) -> [String: JSONValue] {
        [
            "personId": .string(person.id), "faceCount": .number(Double(person.faceCount)),
            "createdAt": .string(person.createdAt.formatted(.iso8601)),
        ]
    }
}

/// A client's person id: 1–128 of `[A-Za-z0-9._:@-]`.
enum PersonID {
    static let rule = "must be 1–128 of A-Z a-z 0-9 . _ : @ -"

    static func isValid(_ text: String) -> Bool {
        text.wholeMatch(of: /[A-Za-z0-9._:@-]{1,128}/) != nil
    }
}

extension FaceBox {
    /// The box (left, top, right, bottom, in the upright photo's pixels) and the detector's
    /// score, as every answer and problem names a face.
    var answer: [String: JSONValue] {
        ["box": .array(edges.map { .number(Double($0)) }), "detectionScore": .number(roundedScore)]
    }

    /// Three decimals: the detector is not surer than that.
    var roundedScore: Double { (detectionScore * 1_000).rounded() / 1_000 }
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
        guard let value = reader.value(image) else {
            return EmbeddingField.read(&reader, field: embedding, base64Field: base64).map(Probe.embedding)
        }
        if reader.value(embedding) != nil || base64.flatMap({ reader.value($0) }) != nil {
            reader.fail(image, "not_allowed", "send \(embedding) or \(image), not both")
            return nil
        }
        guard case .string(let text) = value, let data = Data(base64Encoded: text) else {
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
            reader.fail(field, "required", base64Field.map { "send \(field) or \($0)" } ?? "is required")
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
