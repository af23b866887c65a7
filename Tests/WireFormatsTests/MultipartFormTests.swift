// multipart/form-data: text parts read into the JSON object a JSON body would give, file parts as bytes.

import Foundation
import Testing
import TestSupport
import WireFormats

struct MultipartFormTests {
    static let type = "multipart/form-data; boundary=\"b0und\""

    @Test func textPartsBecomeFieldsAndFilePartsStayBytes() throws {
        // A file whose bytes contain the delimiter, but not at the start of a line, stays whole.
        let file: [UInt8] = [0xFF, 0xD8] + Array("--b0und inside".utf8) + [0, 13, 10, 0xFF, 0xD9]
        let body = Photos.form(boundary: "b0und", fields: [("personId", "alice"), ("limit", "3")], files: [("image", "a.jpg", file)])
        let form = try #require(MultipartForm.parse(body, contentType: Self.type))
        #expect(form == MultipartForm(fields: ["personId": "alice", "limit": 3], files: ["image": file]))
        let empty = MultipartForm.parse(Photos.form(boundary: "b0und", fields: [("minScore", "")]), contentType: Self.type)
        #expect(empty == MultipartForm(fields: ["minScore": ""]))
    }

    @Test func aMalformedFormIsNoForm() {
        let good = Photos.form(boundary: "b0und", fields: [("personId", "alice")])
        #expect(MultipartForm.parse(good, contentType: "multipart/form-data") == nil)  // no boundary
        #expect(MultipartForm.parse(good, contentType: "multipart/form-data; boundary=other") == nil)
        #expect(MultipartForm.parse(good.dropLast(4), contentType: Self.type) == nil)  // never closed
        let twice = Photos.form(boundary: "b0und", fields: [("personId", "a"), ("personId", "b")])
        #expect(MultipartForm.parse(twice, contentType: Self.type) == nil)
        let fieldAndFile = Photos.form(boundary: "b0und", fields: [("image", "x")], files: [("image", "a.jpg", [1])])
        #expect(MultipartForm.parse(fieldAndFile, contentType: Self.type) == nil)
        let headless = Array("--b0und\r\nno blank line\r\n--b0und--\r\n".utf8)
        #expect(MultipartForm.parse(headless, contentType: Self.type) == nil)
        let nameless = Array("--b0und\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b0und--\r\n".utf8)
        #expect(MultipartForm.parse(nameless, contentType: Self.type) == nil)
    }
}
