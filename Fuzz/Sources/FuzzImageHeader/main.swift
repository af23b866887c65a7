// Image headers on arbitrary bytes: nothing may trap, and a header read is a sane one.

import WireFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageHeader(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let header = ImageHeader.read(bytes) else { return 0 }
    guard header.width > 0, header.height > 0, (1...8).contains(header.orientation), header.pixels > 0 else {
        fatalError("an impossible header: \(header)")
    }
    return 0
}
