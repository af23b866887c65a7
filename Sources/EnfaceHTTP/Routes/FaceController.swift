// The face API, /v1: enroll, persons, delete, verify (1:1), search (1:N), compare.

import FaceIndex
import FaceService
import Foundation
import HTTPTypes
import Hummingbird
import Storage
import Tenancy

struct FaceController: Sendable {
    let registry: FaceRegistry
    let metrics: EnfaceMetrics

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.post("/persons/{personId}/faces") { request, context in
            let tenant = try context.requireTenant(.facesWrite)
            let personID = try context.personID()
            var reader = FieldReader(try await request.json(context: context), allowed: ["embedding", "embeddingBase64"])
            let embedding = EmbeddingField.read(&reader)
            try reader.check()
            let enrolled = try await registry.enroll(person: personID, embedding: embedding!, context: tenant)
            return Answer(status: .created, body: [
                "faceId": .string(enrolled.faceID.uuidString.lowercased()), "personId": .string(enrolled.personID),
                "faceCount": .number(Double(enrolled.faceCount)),
            ])
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
            var body = Self.person(person).objectValue!
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
            guard let text = context.parameters.get("faceId"), let id = UUID(uuidString: text) else { throw FaceError.faceNotFound }
            try await registry.deleteFace(id, context: tenant)
            return HTTPResponse.Status.noContent
        }
        group.post("/verify") { request, context in
            let tenant = try context.requireTenant(.verify)
            var reader = FieldReader(try await request.json(context: context), allowed: ["personId", "embedding", "embeddingBase64"])
            let personID = reader.string("personId", required: true)
            if let personID, !PersonID.isValid(personID) { reader.fail("personId", "invalid_format", PersonID.rule) }
            let embedding = EmbeddingField.read(&reader)
            try reader.check()
            let result = try await registry.verify(person: personID!, embedding: embedding!, context: tenant)
            return [
                "match": .bool(result.match), "score": Self.score(result.score), "threshold": .number(result.threshold),
                "faceId": .string(result.faceID.uuidString.lowercased()), "personId": .string(personID!),
            ] as JSONValue
        }
        group.post("/search") { request, context in
            let tenant = try context.requireTenant(.search)
            let most = tenant.tenant.settings.searchLimitMax
            var reader = FieldReader(
                try await request.json(context: context), allowed: ["embedding", "embeddingBase64", "limit", "minScore"])
            let embedding = EmbeddingField.read(&reader)
            let limit = reader.integer("limit", in: 1...most) ?? min(10, most)
            let minScore = reader.number("minScore", in: -1...1)
            try reader.check()
            let result = try await registry.search(embedding: embedding!, limit: limit, minScore: minScore, context: tenant)
            metrics.search(source: result.source.rawValue)
            return [
                "matches": .array(result.matches.map { match in
                    [
                        "personId": .string(match.personID), "faceId": .string(match.faceID.uuidString.lowercased()),
                        "score": Self.score(match.score),
                    ]
                }),
                "threshold": .number(result.threshold), "limit": .number(Double(limit)),
            ] as JSONValue
        }
        group.post("/compare") { request, context in
            let tenant = try context.requireTenant(.verify)
            var reader = FieldReader(try await request.json(context: context), allowed: ["a", "b"])
            let a = EmbeddingField.read(&reader, field: "a", base64Field: nil)
            let b = EmbeddingField.read(&reader, field: "b", base64Field: nil)
            try reader.check()
            let result = try registry.compare(a!, b!, context: tenant)
            return ["score": Self.score(result.score), "match": .bool(result.match), "threshold": .number(result.threshold)] as JSONValue
        }
    }

    /// A float score as the shortest decimal that reads back as the same float (0.8123, not
    /// 0.81230002641677856).
    static func score(_ score: Float) -> JSONValue { .number(Double("\(score)") ?? Double(score)) }

    static func person(_ person: FaceRepository.PersonRecord) -> JSONValue {
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

/// An embedding as JSON numbers (`embedding`) or base64 little-endian float32 (`embeddingBase64`):
/// exactly one of them. Its length and values are checked against the tenant's model later.
enum EmbeddingField {
    static let maximumLength = 4_096

    static func read(_ reader: inout FieldReader, field: String = "embedding", base64Field: String? = "embeddingBase64") -> [Float]? {
        let numbers = reader.value(field)
        let encoded = base64Field.flatMap { reader.value($0) }
        switch (numbers, encoded) {
        case (nil, nil):
            reader.fail(field, "required", base64Field.map { "send \(field) or \($0)" } ?? "is required")
            return nil
        case (.some, .some):
            reader.fail(base64Field!, "not_allowed", "send \(field) or \(base64Field!), not both")
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
        case (nil, let value?):
            guard case .string(let text) = value, let data = Data(base64Encoded: text), data.count % 4 == 0,
                  (4...(maximumLength * 4)).contains(data.count)
            else {
                reader.fail(base64Field!, "invalid_format", "must be base64 of little-endian float32 values")
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
        guard let text = parameters.get("personId"), PersonID.isValid(text) else {
            throw ValidationFailure(pointer: "/personId", code: "invalid_format", detail: PersonID.rule)
        }
        return text
    }
}
