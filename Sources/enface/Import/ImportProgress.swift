// An import's progress, kept beside its file (FILE.import) and written after every batch in the
// file's order; refused faces are appended to FILE.import-errors.ndjson as they are saved.

import Crypto
import Foundation
import WireFormats

#if canImport(Glibc)
import Glibc
#endif

struct ImportProgress {
    struct Saved: Codable {
        /// The file as it was when the import began (path, size, modification time, batch size):
        /// progress and Idempotency-Keys hold only for that file.
        var identity: String
        var position: ImportPosition?
        var enrolled = 0
        var refused = 0
    }

    let path: String
    let errorsPath: String
    private(set) var saved: Saved
    var identity: String { saved.identity }

    init(file: String, persons: String?, batch: Int, restart: Bool) throws {
        path = file + ".import"
        errorsPath = file + ".import-errors.ndjson"
        let identity = try Self.identity(of: file, persons: persons, batch: batch)
        if !restart, let data = FileManager.default.contents(atPath: path),
           let previous = try? JSONDecoder().decode(Saved.self, from: data) {
            guard previous.identity == identity else {
                throw ImportFailure(
                    "\(path) belongs to another version of \(file) (or another --batch): remove it or pass --restart to send the file again")
            }
            saved = previous
        } else {
            saved = Saved(identity: restart ? identity + "-" + Self.nonce() : identity)
            try? FileManager.default.removeItem(atPath: errorsPath)
        }
    }

    /// Counts a batch's outcomes, lists its refused faces, and writes the position after it.
    mutating func save(_ batch: ImportBatch, outcomes: [ItemOutcome]) throws {
        let refused = outcomes.filter { $0.status != 201 }
        saved.enrolled += outcomes.count - refused.count
        saved.refused += refused.count
        if !refused.isEmpty {
            var lines = ""
            for outcome in refused {
                var entry: [String: JSONValue] = ["face": .number(Double(outcome.item + 1)), "status": .number(Double(outcome.status))]
                if let person = outcome.personID { entry["personId"] = .string(person) }
                if let code = outcome.code { entry["code"] = .string(code) }
                if let detail = outcome.detail { entry["detail"] = .string(detail) }
                lines += JSONValue.object(entry).canonical + "\n"
            }
            try Self.append(lines, to: errorsPath)
        }
        saved.position = batch.next
        // Written whole and renamed into place: a run stopped at any moment leaves the last good copy.
        let data = try JSONEncoder().encode(saved)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path), !FileManager.default.createFile(atPath: path, contents: nil) {
            throw ImportFailure("cannot create \(path)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ImportFailure("cannot write \(path)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    static func identity(of file: String, persons: String?, batch: Int) throws -> String {
        let url = URL(fileURLWithPath: file).standardizedFileURL
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let text = "\(url.path)\n\(size)\n\(modified)\n\(persons ?? "")\n\(batch)"
        return SHA256.hash(data: Data(text.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    static func nonce() -> String {
        (0..<4).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max)) }.joined()
    }
}

/// A progress bar on standard error: redrawn in place on a terminal, a line every 10 s otherwise.
struct ProgressMeter {
    let total: UInt64
    let started = ContinuousClock.now
    let terminal = isatty(2) != 0
    private var lastDrawn: ContinuousClock.Instant?
    private var line = ""

    init(total: UInt64) {
        self.total = max(total, 1)
    }

    mutating func show(offset: UInt64, faces: Int) {
        let now = ContinuousClock.now
        if let lastDrawn, now - lastDrawn < (terminal ? .milliseconds(200) : .seconds(10)) { return }
        lastDrawn = now
        let share = min(1, Double(offset) / Double(total))
        let seconds = max((now - started) / .seconds(1), 0.001)
        let rate = Double(faces) / seconds
        let width = 30
        let filled = Int(share * Double(width))
        line = String(
            format: "[%@%@] %5.1f %%  %d faces  %.0f faces/s", String(repeating: "#", count: filled),
            String(repeating: ".", count: width - filled), share * 100, faces, rate)
        FileHandle.standardError.write(Data((terminal ? "\r" + line : line + "\n").utf8))
    }

    func finish() {
        if terminal, !line.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
