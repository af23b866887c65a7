// Reading a JSON body: the right media type, within the size limit, valid JSON.

import Foundation
import Hummingbird
import NIOCore
import Tenancy
import WireFormats

extension Request {
    /// The body as JSON. 415 unless the media type is JSON; 413 past `context.bodyLimit`
    /// (reading stops there); 400 for malformed JSON. An empty body is `empty` when given. With
    /// `forms`, a multipart/form-data body is read into the same object (see `MultipartForm`).
    func json(context: EnfaceRequestContext, empty: JSONValue? = nil, forms: Bool = false) async throws -> JSONValue {
        let limit = context.bodyLimit
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw RequestError.payloadTooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw RequestError.payloadTooLarge(limit: limit)
        }
        if buffer.readableBytes == 0, let empty { return empty }
        if forms, let type = headers[.contentType], type.lowercased().hasPrefix("multipart/form-data") {
            guard let form = MultipartForm.parse(buffer.readableBytesView, contentType: type) else { throw RequestError.malformedForm }
            return form
        }
        guard let type = headers[.contentType]?.lowercased(),
              type.hasPrefix("application/json") || type.contains("+json")
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
