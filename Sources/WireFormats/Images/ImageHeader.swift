// What an image says about itself before any pixel is decoded: its format, its size and its
// EXIF orientation. Read from the first bytes only, so a 30000 × 30000 "decompression bomb" is
// refused before it can claim gigabytes. Every number here comes from an attacker: nothing
// traps on it (fuzzed by Fuzz/, `make fuzz`).

/// A JPEG or PNG's header facts.
public struct ImageHeader: Sendable, Equatable {
    public enum Format: String, Sendable {
        case jpeg, png
    }

    public var format: Format
    public var width: Int
    public var height: Int
    /// EXIF orientation, 1 (as stored) to 8; 1 when absent or unreadable.
    public var orientation: Int

    public init(format: Format, width: Int, height: Int, orientation: Int) {
        self.format = format
        self.width = width
        self.height = height
        self.orientation = orientation
    }

    /// width × height. Both come from the file: a PNG may claim 2³²−1 each, whose product
    /// does not fit an Int, so it saturates instead of trapping.
    public var pixels: Int {
        let (product, overflow) = width.multipliedReportingOverflow(by: height)
        return overflow ? .max : product
    }

    /// The longest side decoded at all, whatever the pixel budget: JPEG's own limit. A PNG
    /// claiming more is refused before decoding, as a bomb is.
    public static let maximumSide = 65_535

    /// The shortest side worth decoding: no face fits in fewer pixels than the smallest face
    /// size a tenant may ask for, and a 1-pixel-high strip would shrink to nothing on its way to
    /// the detector.
    public static let minimumSide = 20

    /// The header of `bytes`, or nil when they are not a JPEG or PNG whose size can be read.
    public static func read(_ bytes: some Collection<UInt8>) -> ImageHeader? {
        let bytes = Array(bytes.prefix(1 << 20))
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return png(bytes) }
        if bytes.starts(with: [0xFF, 0xD8]) { return jpeg(bytes) }
        return nil
    }

    /// IHDR is the first chunk: width and height, big-endian, at offsets 16 and 20.
    static func png(_ bytes: [UInt8]) -> ImageHeader? {
        guard bytes.count >= 24, bytes[12..<16].elementsEqual(Array("IHDR".utf8)) else { return nil }
        let width = Int(bigEndian32(bytes, 16)), height = Int(bigEndian32(bytes, 20))
        guard width > 0, height > 0 else { return nil }
        return ImageHeader(format: .png, width: width, height: height, orientation: 1)
    }

    /// Walks the JPEG's segments up to the first frame header (SOFn), noting the EXIF
    /// orientation on the way (APP1).
    static func jpeg(_ bytes: [UInt8]) -> ImageHeader? {
        var offset = 2
        var orientation: Int?  // the first EXIF block's, as readers do
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            let marker = bytes[offset + 1]
            if marker == 0xFF { offset += 1; continue }  // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { offset += 2; continue }
            let length = Int(bigEndian16(bytes, offset + 2))
            guard length >= 2, offset + 2 + length <= bytes.count else { return nil }
            let segment = (offset + 4)..<(offset + 2 + length)
            switch marker {
            case 0xE1:
                if orientation == nil { orientation = exifOrientation(Array(bytes[segment])) }
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                guard segment.count >= 5 else { return nil }
                let height = Int(bigEndian16(bytes, segment.lowerBound + 1))
                let width = Int(bigEndian16(bytes, segment.lowerBound + 3))
                guard width > 0, height > 0 else { return nil }
                return ImageHeader(format: .jpeg, width: width, height: height, orientation: orientation ?? 1)
            case 0xDA, 0xD9:
                return nil  // scan data or the end before any frame header
            default:
                break
            }
            offset += 2 + length
        }
        return nil
    }

    /// Tag 0x0112 of IFD0 in an APP1 "Exif\0\0" segment (TIFF, either byte order).
    static func exifOrientation(_ segment: [UInt8]) -> Int? {
        guard segment.count >= 14, segment.starts(with: Array("Exif".utf8) + [0, 0]) else { return nil }
        let tiff = Array(segment[6...])
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let high = u16(little ? at + 2 : at), let low = u16(little ? at : at + 2) else { return nil }
            return high << 16 | low
        }
        guard let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<min(count, 256) {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at) else { return nil }
            if tag == 0x0112, let value = u16(at + 8), (1...8).contains(value) { return value }
        }
        return nil
    }

    static func bigEndian16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }

    static func bigEndian32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
}
