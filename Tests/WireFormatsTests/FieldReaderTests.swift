// Reading a body field by field: every error collected, a form's files beside its fields.

import Testing
import WireFormats

struct FieldReaderTests {
    @Test func everyErrorIsCollectedNotOnlyTheFirst() {
        var reader = FieldReader(["limit": "3", "minScore": 2, "extra": true], allowed: ["limit", "minScore", "personId"])
        _ = reader.integer("limit", in: 1...10)
        _ = reader.number("minScore", in: -1...1)
        _ = reader.string("personId", required: true)
        #expect(reader.errors.map(\.pointer) == ["/extra", "/limit", "/minScore", "/personId"])
        #expect(reader.errors.map(\.code) == ["unknown_field", "wrong_type", "out_of_range", "required"])
        #expect(throws: ValidationFailure.self) { try reader.check() }
    }

    @Test func aFormsFileIsBytesAndNeverText() {
        let form = MultipartForm(fields: ["personId": "alice"], files: ["image": [0xFF, 0xD8], "stray": [1]])
        var reader = FieldReader(form, allowed: ["personId", "image", "limit"])
        #expect(reader.file("image") == [0xFF, 0xD8])
        #expect(reader.contains("image") && reader.contains("personId") && !reader.contains("limit"))
        #expect(reader.string("personId") == "alice")
        // A file where text is expected is the client's mistake, named, not ignored.
        #expect(reader.string("image") == nil)
        #expect(reader.errors.map(\.pointer) == ["/stray", "/image"])
        #expect(reader.errors.map(\.code) == ["unknown_field", "wrong_type"])
    }

    @Test func nullCountsAsAbsent() {
        var reader = FieldReader(["image": .null, "embedding": [1]], allowed: ["image", "embedding"])
        #expect(!reader.contains("image") && reader.contains("embedding"))
        #expect(reader.value("image", required: true) == nil)
        #expect(reader.errors.map(\.code) == ["required"])
    }
}
