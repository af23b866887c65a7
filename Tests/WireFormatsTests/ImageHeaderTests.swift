// Headers are read from the first bytes, before any decoding: size and EXIF orientation.

import Testing
import TestSupport
import WireFormats

struct ImageHeaderTests {
    @Test func realPhotosReportTheirFormatSizeAndOrientation() throws {
        #expect(ImageHeader.read(try Photos.bytes("obama.jpg")) == ImageHeader(format: .jpeg, width: 910, height: 1137, orientation: 1))
        #expect(ImageHeader.read(try Photos.bytes("t1.jpg")) == ImageHeader(format: .jpeg, width: 1280, height: 886, orientation: 1))
        #expect(ImageHeader.read(try Photos.bytes("astronaut.png")) == ImageHeader(format: .png, width: 512, height: 512, orientation: 1))
    }

    @Test func anExifOrientationIsReadInEitherByteOrder() throws {
        let photo = try Photos.bytes("obama.jpg")
        for orientation in UInt16(1)...8 {
            #expect(ImageHeader.read(Photos.withOrientation(photo, orientation))?.orientation == Int(orientation))
        }
        // obama2.jpg carries a big-endian TIFF block.
        #expect(ImageHeader.read(try Photos.bytes("obama2.jpg"))?.orientation == 1)
    }

    @Test func aBombIsMeasuredFromItsHeaderAlone() {
        let bomb = PNG.header(width: 30_000, height: 30_000)
        #expect(ImageHeader.read(bomb)?.pixels == 900_000_000)
    }

    @Test func anythingElseHasNoHeader() {
        #expect(ImageHeader.read([]) == nil)
        #expect(ImageHeader.read(Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20)) == nil)
        #expect(ImageHeader.read([0xFF, 0xD8, 0xFF]) == nil)
        #expect(ImageHeader.read([0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF]) == nil)  // a segment longer than the bytes
        #expect(ImageHeader.read(PNG.header(width: 0, height: 10)) == nil)
        #expect(ImageHeader.read([0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02]) == nil)  // scan data before any frame header
    }
}

/// Headers that claim the impossible: read without trapping, refused before any decoding.
struct HostileImageHeaderTests {
    @Test func aPNGClaimingFourBillionSquaredSaturatesInsteadOfTrapping() throws {
        // The 33 bytes that killed the process before: width and height 2^32 - 1.
        let header = try #require(ImageHeader.read(PNG.header(width: 0xFFFF_FFFF, height: 0xFFFF_FFFF)))
        #expect(header.width == 0xFFFF_FFFF && header.height == 0xFFFF_FFFF)
        #expect(header.pixels == Int.max)
    }

    @Test func everyClaimedSizeGivesAPositivePixelCount() {
        for (width, height) in [(1, 1), (65_535, 65_535), (0x7FFF_FFFF, 3), (3_037_000_500, 3_037_000_500)] {
            let header = ImageHeader.read(PNG.header(width: width, height: height))
            #expect((header?.pixels ?? 0) > 0)
        }
    }
}
