// Photos over HTTP: enroll from one photo, verify and search with others, every face of a group
// answered, each bad photo refused with its code and nothing changed; JSON or a form.

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct PhotoTests {
    static let model = "dlib-resnet-v1"

    static func image(_ name: String) throws -> JSONValue { .string(Data(try Photos.bytes(name)).base64EncodedString()) }

    @Test func enrollFromOnePhotoVerifyAndSearchWithOthers() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["maxBodyBytes": .number(Double(4 << 20))], model: Self.model)
            let enrolled = try await enface.call(.post, "/v1/persons/obama/faces", key: tenant.key, json: ["image": try Self.image("obama.jpg")])
            #expect(enrolled.status == .created, "\(enrolled.body)")
            #expect(enrolled["face"]?.objectValue?["box"]?.arrayValue?.count == 4)
            guard case .number(let detectionScore)? = enrolled["face"]?.objectValue?["detectionScore"] else {
                Issue.record("no detection score: \(enrolled.body)")
                return
            }
            #expect(detectionScore >= 0.6)
            // Sent twice with one Idempotency-Key: the second gets the first answer, box and all.
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "photo-1"]
            let keyed = try await enface.call(.post, "/v1/persons/barack/faces", key: tenant.key, headers: key, json: ["image": try Self.image("obama2.jpg")])
            let again = try await enface.call(.post, "/v1/persons/barack/faces", key: tenant.key, headers: key, json: ["image": try Self.image("obama2.jpg")])
            #expect(keyed.status == .created && keyed["face"]?["box"]?.arrayValue?.count == 4, "\(keyed.body)")
            #expect(again.body == keyed.body && again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await enface.call(.get, "/v1/persons/barack", key: tenant.key)["faceCount"] == 1)
            // A form retried with a new boundary (as most clients send one) is the same request.
            let photo = try Photos.bytes("obama3.jpg")
            var forms: [Reply] = []
            for boundary in ["first-boundary", "second-boundary"] {
                forms.append(try await enface.call(
                    .post, "/v1/persons/barack/faces", key: tenant.key,
                    headers: [HTTPField.Name("Idempotency-Key")!: "photo-2", .contentType: "multipart/form-data; boundary=\(boundary)"],
                    bytes: Photos.form(boundary: boundary, files: [("image", "obama3.jpg", photo)])))
            }
            #expect(forms[0].status == .created && forms[1].body == forms[0].body, "\(forms[1].body)")
            #expect(forms[1].headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await enface.call(.get, "/v1/persons/barack", key: tenant.key)["faceCount"] == 2)
            #expect(try await enface.call(.delete, "/v1/persons/barack", key: tenant.key).status == .noContent)

            for photo in ["obama2.jpg", "obama3.jpg", "rotated/obama-exif6.jpg"] {
                let verified = try await enface.call(
                    .post, "/v1/verify", key: tenant.key, json: ["personId": "obama", "image": try Self.image(photo)])
                #expect(verified["match"] == true && verified["threshold"] == 0.9072, "\(photo): \(verified.body)")
                #expect(verified["faces"]?.arrayValue?.count == 1)
            }
            let biden = try await enface.call(.post, "/v1/verify", key: tenant.key, json: ["personId": "obama", "image": try Self.image("biden.jpg")])
            #expect(biden.status == .ok && biden["match"] == false, "\(biden.body)")

            // Search answers every face of the group photo; none of them is Obama.
            let group = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["image": try Self.image("t1.jpg")])
            let faces = group["faces"]?.arrayValue ?? []
            #expect(faces.count >= 4, "\(group.body)")
            #expect(faces.allSatisfy { $0.objectValue?["matches"] == [] && $0.objectValue?["box"]?.arrayValue?.count == 4 })
            let found = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["image": try Self.image("obama2.jpg")])
            #expect(found["faces"]?.arrayValue?.first?.objectValue?["matches"]?.arrayValue?.first?.objectValue?["personId"] == "obama")

            // Compare two photos, and a photo with an embedding of the same model.
            let compared = try await enface.call(
                .post, "/v1/compare", key: tenant.key, json: ["imageA": try Self.image("obama.jpg"), "imageB": try Self.image("obama3.jpg")])
            #expect(compared["match"] == true && compared["faceA"] != nil && compared["faceB"] != nil, "\(compared.body)")

            // The same enroll as a form, with the photo as a file part.
            let boundary = "enface-\(UUID().uuidString)"
            let form = try await enface.call(
                .post, "/v1/persons/obama/faces", key: tenant.key,
                headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
                bytes: Photos.form(boundary: boundary, files: [("image", "obama2.jpg", try Photos.bytes("obama2.jpg"))]))
            #expect(form.status == .created && form["faceCount"] == 2, "\(form.body)")
            let formSearch = try await enface.call(
                .post, "/v1/search", key: tenant.key, headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
                bytes: Photos.form(boundary: boundary, fields: [("limit", "1")], files: [("image", "o.jpg", try Photos.bytes("obama3.jpg"))]))
            #expect(formSearch["limit"] == 1 && formSearch["faces"]?.arrayValue?.count == 1, "\(formSearch.body)")
        }
    }

    @Test func everyBadPhotoGetsItsCodeAndChangesNothing() async throws {
        try await LiveService.run(["ENFACE_IMAGE_MAX_PIXELS": "20000000"]) { enface in
            let tenant = try await enface.createTenant(quotas: ["maxBodyBytes": .number(Double(2 << 20))], model: Self.model)
            func enroll(_ image: [UInt8]) async throws -> Reply {
                try await enface.call(
                    .post, "/v1/persons/p1/faces", key: tenant.key, json: ["image": .string(Data(image).base64EncodedString())])
            }
            #expect(try await enroll(Array("certainly not a photo".utf8)).code == "invalid_image")
            #expect(try await enroll([]).code == "invalid_image")
            #expect(try await enroll(Array(try Photos.bytes("obama.jpg").prefix(4_000))).code == "invalid_image")
            let bomb = try await enroll(PNG.header(width: 30_000, height: 30_000) + [UInt8](repeating: 0, count: 64))
            #expect(bomb.status == .contentTooLarge && bomb.code == "image_too_large")
            let blank = try await enroll(PNG.encode(width: 320, height: 240) { x, y in (UInt8(x % 256), UInt8(y % 256), 90) })
            #expect(blank.code == "no_face" && blank.json.objectValue?["faces"] == [])
            let group = try await enroll(try Photos.bytes("t1.jpg"))
            #expect(group.code == "multiple_faces" && (group.json.objectValue?["faces"]?.arrayValue?.count ?? 0) >= 4, "\(group.body)")
            // A side of a compare is one face too: a group photo is not narrowed to one of them.
            let compared = try await enface.call(
                .post, "/v1/compare", key: tenant.key, json: ["imageA": try Self.image("obama.jpg"), "imageB": try Self.image("t1.jpg")])
            #expect(compared.code == "multiple_faces" && (compared.json.objectValue?["faces"]?.arrayValue?.count ?? 0) >= 4, "\(compared.body)")
            let both = try await enface.call(
                .post, "/v1/persons/p1/faces", key: tenant.key,
                json: ["image": try Self.image("obama.jpg"), "embedding": .array(Array(repeating: 0.1, count: 128))])
            #expect(both.code == "validation_failed" && both.pointers == ["/image"])
            #expect(try await enface.call(.post, "/v1/persons/p1/faces", key: tenant.key, json: ["image": 42]).pointers == ["/image"])
            let tooBig = try await enface.call(
                .post, "/v1/persons/p1/faces", key: tenant.key,
                json: ["image": .string(Data(repeating: 0xFF, count: 2 << 20).base64EncodedString())])
            #expect(tooBig.status == .contentTooLarge)
            let brokenForm = try await enface.call(
                .post, "/v1/persons/p1/faces", key: tenant.key, headers: [.contentType: "multipart/form-data; boundary=x"],
                bytes: Array("--x\r\nno headers end".utf8))
            #expect(brokenForm.code == "malformed_form")
            // A file where a number belongs is named, not ignored.
            let fileAsLimit = try await enface.call(
                .post, "/v1/search", key: tenant.key, headers: [.contentType: "multipart/form-data; boundary=x"],
                bytes: Photos.form(boundary: "x", files: [("image", "o.jpg", try Photos.bytes("obama.jpg")), ("limit", "l.txt", [51])]))
            #expect(fileAsLimit.code == "validation_failed" && fileAsLimit.pointers == ["/limit"], "\(fileAsLimit.body)")
            let fileAsEmbedding = try await enface.call(
                .post, "/v1/search", key: tenant.key, headers: [.contentType: "multipart/form-data; boundary=x"],
                bytes: Photos.form(boundary: "x", files: [("embedding", "e.bin", [0, 0, 128, 63])]))
            #expect(fileAsEmbedding.pointers == ["/embedding"], "\(fileAsEmbedding.body)")
            #expect(fileAsEmbedding.json["errors"]?.arrayValue?.first?["code"] == "wrong_type")
            let verifyBlank = try await enface.call(
                .post, "/v1/verify", key: tenant.key,
                json: ["personId": "p1", "image": .string(Data(PNG.encode(width: 64, height: 64) { _, _ in (9, 9, 9) }).base64EncodedString())])
            #expect(verifyBlank.code == "no_face")

            // Nothing of it was kept.
            #expect(try await enface.call(.get, "/v1/persons/p1", key: tenant.key).code == "person_not_found")

            // A tenant whose model has no extractor sends embeddings.
            let other = try await enface.createTenant()
            let refused = try await enface.call(.post, "/v1/search", key: other.key, json: ["image": try Self.image("obama.jpg")])
            #expect(refused.status == .unprocessableContent && refused.code == "model_has_no_extractor")
        }
    }

    /// A photo of many faces costs the shared engines a pass per face: it is answered for at
    /// most `maxFacesPerPhoto` faces (the best-scoring), and each face beyond the first counts
    /// as one more request against the tenant's rate limit.
    @Test func aGroupPhotoIsBoundedAndEachFaceCountsAgainstTheRateLimit() async throws {
        try await LiveService.run { enface in
            // 3 requests a minute: one token back every 20 s, longer than this test takes.
            let tenant = try await enface.createTenant(
                quotas: ["requestsPerMinute": 3, "maxBodyBytes": .number(Double(4 << 20))], settings: ["maxFacesPerPhoto": 3],
                model: Self.model)
            let first = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["image": try Self.image("t1.jpg")])
            #expect(first.status == .ok && first["faces"]?.arrayValue?.count == 3, "\(first.body)")
            // The group photo took 1 token and its two more faces 2: nothing is left for a portrait.
            let refused = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["image": try Self.image("obama.jpg")])
            #expect(refused.status == .tooManyRequests && refused.code == "rate_limited", "\(refused.status)")
            let unbounded = try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["settings": ["maxFacesPerPhoto": 65]])
            #expect(unbounded.pointers == ["/settings/maxFacesPerPhoto"], "\(unbounded.body)")
        }
    }

    /// `count` searches with `body` at once, each on its own connection: their statuses and
    /// `Retry-After` headers.
    static func searches(
        _ count: Int, port: Int, key: String, body: JSONValue
    ) async throws -> [(status: HTTPResponse.Status, retryAfter: String?)] {
        try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await TestClient.withClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(120))) { client in
                        let response = try await client.execute(
                            .init("/v1/search", method: .post, authority: "localhost",
                                  headers: [EnfaceClient.apiKey: key, .contentType: "application/json"],
                                  body: ByteBuffer(string: body.canonical)),
                            heldTo: .served)
                        return (response.status, response.headers[.retryAfter])
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func sixteenPhotosAtOnceAreAllAnsweredAndAFullLineIsA503() async throws {
        let quotas: JSONValue = ["requestsPerMinute": 10_000, "maxBodyBytes": .number(Double(4 << 20))]
        // A tenant may fill half the line (the other half is kept for other tenants): 2 run, 14 wait.
        try await LiveService.run(["ENFACE_IMAGE_WORKERS": "2", "ENFACE_IMAGE_QUEUE": "28"]) { enface in
            let tenant = try await enface.createTenant(quotas: quotas, model: Self.model)
            let replies = try await Self.searches(
                16, port: try #require(enface.port), key: tenant.key, body: ["image": try Self.image("astronaut.png")])
            #expect(replies.count == 16 && replies.allSatisfy { $0.status == .ok }, "\(replies)")
            let metrics = try await enface.call(.get, "/metrics", headers: enface.operatorHeaders)
            #expect(metrics.body.contains("enface_image_stage_seconds_bucket{stage=\"detect\""))
            #expect(metrics.body.contains("enface_image_requests_total{outcome=\"ok\"} 16"))
        }
        // One engine and no line: photos that find it busy are refused at once, to be retried.
        try await LiveService.run(["ENFACE_IMAGE_WORKERS": "1", "ENFACE_IMAGE_QUEUE": "0"]) { enface in
            let tenant = try await enface.createTenant(quotas: quotas, model: Self.model)
            let replies = try await Self.searches(
                12, port: try #require(enface.port), key: tenant.key, body: ["image": try Self.image("obama3.jpg")])
            let busy = replies.filter { $0.status == .serviceUnavailable }
            #expect(replies.allSatisfy { $0.status == .ok || $0.status == .serviceUnavailable }, "\(replies)")
            #expect(!busy.isEmpty && busy.allSatisfy { $0.retryAfter == "1" }, "\(replies)")
            #expect(replies.contains { $0.status == .ok })
        }
    }
}
