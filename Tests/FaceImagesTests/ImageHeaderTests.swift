// Headers are read from the first bytes, before any decoding: size and EXIF orientation.

import FaceImages
import TestSupport
import Testing

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
