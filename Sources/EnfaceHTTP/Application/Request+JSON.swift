// Reading a body: the right media type, within the size limit, valid JSON or a valid form.

import Foundation
import Hummingbird
import NIOCore
import Tenancy
import WireFormats

extension Request {
    /// The body as JSON. 415 unless the media type is JSON; 413 past `context.bodyLimit`
    /// (reading stops there); 400 for malformed JSON. An empty body is `empty` when given.
    func json(context: EnfaceRequestContext, empty: JSONValue? = nil) async throws -> JSONValue {
        let buffer = try await collectBody(context: context)
        if buffer.readableBytes == 0, let empty { return empty }
        return try Self.json(buffer, contentType: headers[.contentType])
    }

    /// A reader over the body's fields: a JSON object, or a multipart/form-data form whose file
    /// parts the reader hands out as bytes (see `MultipartForm`). The same 413, 415 and 400s as
    /// `json`, and 400 for a malformed form.
    func fields(context: EnfaceRequestContext, allowed: Set<String>) async throws -> FieldReader {
        try await fieldsAndBody(context: context, allowed: allowed).reader
    }

    /// `fields`, and the body's bytes as they came (an idempotent request's fingerprint).
    func fieldsAndBody(context: EnfaceRequestContext, allowed: Set<String>) async throws -> (reader: FieldReader, body: ByteBuffer) {
        let buffer = try await collectBody(context: context)
        return (try fields(buffer, allowed: allowed), buffer)
    }

    private func fields(_ buffer: ByteBuffer, allowed: Set<String>) throws -> FieldReader {
        if let type = headers[.contentType], type.lowercased().hasPrefix("multipart/form-data") {
            guard let form = MultipartForm.parse(buffer.readableBytesView, contentType: type) else { throw RequestError.malformedForm }
            return FieldReader(form, allowed: allowed)
        }
        return FieldReader(try Self.json(buffer, contentType: headers[.contentType]), allowed: allowed)
    }

    private func collectBody(context: EnfaceRequestContext) async throws -> ByteBuffer {
        let limit = context.bodyLimit
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw RequestError.payloadTooLarge(limit: limit)
        }
        do {
            return try await body.collect(upTo: limit)
        } catch {
            throw RequestError.payloadTooLarge(limit: limit)
        }
    }

    private static func json(_ buffer: ByteBuffer, contentType: String?) throws -> JSONValue {
        guard let type = contentType?.lowercased(), type.hasPrefix("application/json") || type.contains("+json")
        else { throw RequestError.unsupportedMediaType }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw RequestError.malformedJSON(error)
        }
    }
}

/// A value `FieldReader.check()` has already proven present. Were it missing all the same, that is
/// the server's mistake: a 500 for this request, never a trap that ends every tenant's.
func proven<Value>(_ value: Value?, _ what: String) throws -> Value {
    guard let value else { throw UnprovenValue(what: what) }
    return value
}

struct UnprovenValue: Error, CustomStringConvertible {
    let what: String
    var description: String { "\(what) passed validation but is missing" }
}
