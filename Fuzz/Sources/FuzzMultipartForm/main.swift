// multipart/form-data on arbitrary bytes: the first line is the Content-Type header's value,
// the rest the body. Nothing may trap.

import WireFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipartForm(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let newline = bytes.firstIndex(of: 10) ?? bytes.endIndex
    let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
    let body = newline < bytes.endIndex ? bytes[(newline + 1)...] : []
    if let form = MultipartForm.parse(body, contentType: contentType) {
        if !Set(form.fields.keys).isDisjoint(with: form.files.keys) { fatalError("a name is both a field and a file") }
        var reader = FieldReader(form, allowed: ["image", "limit"])
        _ = reader.integer("limit", in: 1...100)
        _ = reader.file("image")
    }
    return 0
}
