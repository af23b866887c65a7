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
        /// The import as it began (the file's path, size and modification time, the person-id
        /// file, the batch size, the node and the key): progress holds only for that import.
        var identity: String
        /// Empty for the first run of an import, a random word for one started over with
        /// `--restart` (its batches get keys of their own).
        var run = ""
        var position: ImportPosition?
        var enrolled = 0
        var refused = 0
    }

    let path: String
    let errorsPath: String
    private(set) var saved: Saved
    /// What every batch's Idempotency-Key starts with.
    var keyPrefix: String { saved.run.isEmpty ? saved.identity : saved.identity + "-" + saved.run }

    init(file: String, persons: String?, batch: Int, url: String, key: String, restart: Bool) throws {
        path = file + ".import"
        errorsPath = file + ".import-errors.ndjson"
        let identity = try Self.identity(of: file, persons: persons, batch: batch, url: url, key: key)
        if !restart, let data = FileManager.default.contents(atPath: path),
           let previous = try? JSONDecoder().decode(Saved.self, from: data) {
            guard previous.identity == identity else {
                throw ImportFailure(
                    "\(path) belongs to another import (another version of \(file), --batch, --url or key): remove it, or pass --restart to send the file again")
            }
            saved = previous
        } else {
            saved = Saved(identity: identity, run: restart ? Self.nonce() : "")
            try? FileManager.default.removeItem(atPath: errorsPath)
            // Written at once: a restarted run stopped before its first batch resumes under its own keys.
            try write()
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
        try write()
    }

    /// Written whole and renamed into place: a run stopped at any moment leaves the last good copy.
    private func write() throws {
        try JSONEncoder().encode(saved).write(to: URL(fileURLWithPath: path), options: .atomic)
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

    static func identity(of file: String, persons: String?, batch: Int, url node: String, key: String) throws -> String {
        let url = URL(fileURLWithPath: file).standardizedFileURL
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        // The key only as part of a hash: the progress file never holds it.
        let text = "\(url.path)\n\(size)\n\(modified)\n\(persons ?? "")\n\(batch)\n\(node)\n\(key)"
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
