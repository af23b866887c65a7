// What `enface import` reads: NDJSON, one face a line, or raw little-endian float32 rows with a
// file of person ids beside them. Read a batch at a time, so a file of millions of faces never
// sits in memory; each batch says where in the file the next one starts, to resume from there.

import Foundation
import WireFormats

/// One face as the batch endpoint takes it, or why its line cannot be sent.
enum ImportItem {
    case face(personID: String, embeddingBase64: String)
    case unreadable(String)
}

/// A batch read from the file: its items, the first item's number (from 0), and where the file's
/// next batch starts (bytes into the faces file, and into the person-id file for raw input).
struct ImportBatch {
    var first: Int
    var items: [ImportItem]
    var next: ImportPosition
}

struct ImportPosition: Codable, Equatable {
    var item: Int
    var offset: UInt64
    var personsOffset: UInt64
}

protocol ImportSource {
    /// The file's length in bytes, for the progress bar.
    var size: UInt64 { get }
    /// Moves to `position` (a resumed run).
    mutating func seek(to position: ImportPosition) throws
    /// Up to `count` items; nil at the end of the file.
    mutating func next(_ count: Int) throws -> ImportBatch?
}

/// Lines of a file, read in large chunks.
struct LineReader {
    let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private(set) var offset: UInt64 = 0
    private var atEnd = false

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ImportFailure("cannot open \(path)") }
        self.handle = handle
    }

    mutating func seek(to offset: UInt64) throws {
        try handle.seek(toOffset: offset)
        self.offset = offset
        buffer = []
        start = 0
        atEnd = false
    }

    /// The next line without its newline; nil at the end.
    mutating func line() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                offset += UInt64(newline - start + 1)
                start = newline + 1
                return line.last == 0x0D ? line.dropLast() : line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                offset += UInt64(buffer.count - start)
                start = buffer.count
                return line
            }
            let chunk = try handle.read(upToCount: 4 << 20) ?? Data()
            if chunk.isEmpty { atEnd = true }
            buffer = Array(buffer[start...]) + chunk
            start = 0
        }
    }
}

/// `{"personId": "…", "embedding": [numbers]}` or `{"personId": "…", "embeddingBase64": "…"}` a line;
/// blank lines are skipped.
struct NDJSONSource: ImportSource {
    var lines: LineReader
    var item = 0
    let size: UInt64

    init(path: String) throws {
        lines = try LineReader(path: path)
        size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
    }

    mutating func seek(to position: ImportPosition) throws {
        try lines.seek(to: position.offset)
        item = position.item
    }

    mutating func next(_ count: Int) throws -> ImportBatch? {
        let first = item
        var items: [ImportItem] = []
        while items.count < count, let line = try lines.line() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            items.append(Self.item(line))
            item += 1
        }
        guard !items.isEmpty else { return nil }
        return ImportBatch(first: first, items: items, next: ImportPosition(item: item, offset: lines.offset, personsOffset: 0))
    }

    static func item(_ line: ArraySlice<UInt8>) -> ImportItem {
        guard let object = JSONValue.parse(line)?.objectValue else { return .unreadable("not a JSON object") }
        guard case .string(let person)? = object["personId"] else { return .unreadable("no personId") }
        if case .string(let base64)? = object["embeddingBase64"] { return .face(personID: person, embeddingBase64: base64) }
        guard case .array(let values)? = object["embedding"] else { return .unreadable("no embedding or embeddingBase64") }
        var floats: [Float] = []
        floats.reserveCapacity(values.count)
        for value in values {
            guard case .number(let number) = value else { return .unreadable("embedding holds a non-number") }
            floats.append(Float(number))
        }
        return .face(personID: person, embeddingBase64: base64(floats))
    }
}

/// Rows of `dimension` little-endian float32, and a person id a line in `persons`.
struct RawSource: ImportSource {
    let faces: FileHandle
    var persons: LineReader
    let dimension: Int
    var item = 0
    let size: UInt64

    init(path: String, persons: String, dimension: Int) throws {
        guard let faces = FileHandle(forReadingAtPath: path) else { throw ImportFailure("cannot open \(path)") }
        self.faces = faces
        self.persons = try LineReader(path: persons)
        self.dimension = dimension
        size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        guard size % UInt64(dimension * 4) == 0 else {
            throw ImportFailure("\(path): \(size) bytes is not a whole number of \(dimension)-float rows")
        }
    }

    mutating func seek(to position: ImportPosition) throws {
        try faces.seek(toOffset: position.offset)
        try persons.seek(to: position.personsOffset)
        item = position.item
    }

    mutating func next(_ count: Int) throws -> ImportBatch? {
        let rowBytes = dimension * 4
        let data = try faces.read(upToCount: count * rowBytes) ?? Data()
        guard !data.isEmpty else { return nil }
        let first = item
        var items: [ImportItem] = []
        for row in 0..<(data.count / rowBytes) {
            guard let line = try persons.line() else { throw ImportFailure("the person-id file has fewer lines than the faces file has rows") }
            let bytes = data[data.startIndex + row * rowBytes..<data.startIndex + (row + 1) * rowBytes]
            items.append(.face(personID: String(decoding: line, as: UTF8.self), embeddingBase64: bytes.base64EncodedString()))
        }
        item += items.count
        return ImportBatch(
            first: first, items: items,
            next: ImportPosition(item: item, offset: UInt64(item) * UInt64(rowBytes), personsOffset: persons.offset))
    }
}

/// Little-endian float32 bytes as base64, as `embeddingBase64` is sent.
func base64(_ floats: [Float]) -> String {
    var data = Data(capacity: floats.count * 4)
    for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    return data.base64EncodedString()
}

/// Why an import stopped: said plainly, with what to do, and without the command's usage.
struct ImportFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
