// The strict JSON parser and the field reader on arbitrary bytes: nothing may trap, and what
// parses must survive its own canonical form unchanged.

import WireFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    guard let again = try? JSONParser.parse(Array(value.canonical.utf8)), again == value else {
        fatalError("the canonical form of a parsed value does not parse back to it")
    }
    // The field reader on whatever object came out: every accessor, every range.
    var reader = FieldReader(value, allowed: ["a", "b", "limit", "embedding"])
    _ = reader.string("a", lengths: 1...128)
    _ = reader.integer("limit", in: 1...1_000)
    _ = reader.number("b", in: 0...1)
    _ = reader.bool("a")
    _ = reader.value("embedding")
    _ = try? reader.check()
    return 0
}
