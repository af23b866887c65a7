// `enface import FILE`: a tenant's faces from a file, through POST /v1/faces:batch, several
// batches in flight. Each batch carries an Idempotency-Key made of the file's identity and the
// batch's place in it, and the run's progress is saved after every batch in order: an
// interrupted import started again goes on where it stopped, and a batch that was in flight is
// answered from the server's store instead of enrolled twice.

import ArgumentParser
import Crypto
import Foundation
import WireFormats

#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Enroll a file of faces into a tenant over HTTP: resumable, each face once.",
        discussion: """
            FILE is NDJSON, one {"personId": "…", "embedding": [numbers]} (or "embeddingBase64") a \
            line, or raw little-endian float32 rows with --persons (a person id a line) and \
            --dimension. Faces go as embeddingBase64 in batches of --batch to POST /v1/faces:batch \
            with the key in --key or ENFACE_KEY. Progress is kept in FILE.import; refused faces \
            are listed in FILE.import-errors.ndjson. Exit status 0: every face enrolled; 2: some \
            were refused; 1: the import stopped (run it again, without --restart, to go on).
            """)

    @Argument(help: "The file of faces.") var file: String
    @Option(help: "The node: http://host:port.") var url = "http://127.0.0.1:8080"
    @Option(help: "The tenant's API key (scope faces:write); default: $ENFACE_KEY.") var key: String?
    @Option(help: "Raw input: the file of person ids, one a line, in the rows' order.") var persons: String?
    @Option(help: "Raw input: floats a row.") var dimension: Int?
    @Option(help: "Faces a request, 1 to 1000 (the tenant's maxBodyBytes may ask for fewer).") var batch = 500
    @Option(help: "Requests in flight.") var connections = 2
    @Flag(help: "Forget an earlier run's progress and send the whole file again.") var restart = false

    func validate() throws {
        guard (1...1_000).contains(batch) else { throw ValidationError("--batch must be 1 to 1000") }
        guard (1...32).contains(connections) else { throw ValidationError("--connections must be 1 to 32") }
        guard (persons == nil) == (dimension == nil) else { throw ValidationError("raw input needs both --persons and --dimension") }
        if let dimension, !(1...4_096).contains(dimension) { throw ValidationError("--dimension must be 1 to 4096") }
    }

    func run() async throws {
        guard let key = key ?? ProcessInfo.processInfo.environment["ENFACE_KEY"], !key.isEmpty else {
            throw ValidationError("give the tenant's API key with --key or ENFACE_KEY")
        }
        var server = try ServerRequest(url: url, token: nil)
        server.timeoutSeconds = 600
        var source: any ImportSource
        if let persons, let dimension {
            source = try RawSource(path: file, persons: persons, dimension: dimension)
        } else {
            source = try NDJSONSource(path: file)
        }
        var progress = try ImportProgress(file: file, persons: persons, batch: batch, url: url, key: key, restart: restart)
        if let position = progress.saved.position {
            try source.seek(to: position)
            if position.offset >= source.size {
                print("\(file) was imported already (\(progress.saved.enrolled) enrolled, \(progress.saved.refused) refused); --restart sends it again")
                return
            }
            FileHandle.standardError.write(Data("resuming at face \(position.item + 1)\n".utf8))
        }
        let sender = BatchSender(server: server, key: key, identity: progress.keyPrefix)
        var meter = ProgressMeter(total: source.size)
        let started = ContinuousClock.now
        let before = progress.saved.enrolled + progress.saved.refused

        do {
            try await send(source: &source, sender: sender, progress: &progress, meter: &meter, before: before)
        } catch let failure as ImportFailure {
            meter.finish()
            let done = progress.saved.position?.item ?? 0
            throw ImportFailure("\(failure.description)\n\(done) faces are saved as done; run the import again (without --restart) to go on from there")
        }
        meter.finish()
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let sent = progress.saved.enrolled + progress.saved.refused - before
        print(String(
            format: "%d faces enrolled, %d refused, in %.1f s (%.0f faces/s this run)", progress.saved.enrolled, progress.saved.refused,
            seconds, Double(sent) / max(seconds, 0.001)))
        if progress.saved.refused > 0 {
            print("refused faces are listed in \(progress.errorsPath)")
            throw ExitCode(2)
        }
    }

    /// Keeps `connections` batches in flight and saves them in the file's order.
    private func send(
        source: inout any ImportSource, sender: BatchSender, progress: inout ImportProgress, meter: inout ProgressMeter, before: Int
    ) async throws {
        try await withThrowingTaskGroup(of: (ImportBatch, [ItemOutcome]).self) { group in
            var inFlight = 0
            var waiting: [Int: (ImportBatch, [ItemOutcome])] = [:]
            var nextToSave = progress.saved.position?.item ?? 0
            var exhausted = false
            while true {
                while !exhausted, inFlight < connections {
                    guard let next = try source.next(batch) else { exhausted = true; break }
                    group.addTask { (next, try await sender.send(next)) }
                    inFlight += 1
                }
                guard inFlight > 0, let (done, outcomes) = try await group.next() else { break }
                inFlight -= 1
                waiting[done.first] = (done, outcomes)
                // Saved in the file's order, so a resumed run starts right after the last batch saved.
                while let (ready, outcomes) = waiting.removeValue(forKey: nextToSave) {
                    try progress.save(ready, outcomes: outcomes)
                    nextToSave = ready.next.item
                    meter.show(offset: ready.next.offset, faces: progress.saved.enrolled + progress.saved.refused - before)
                }
            }
        }
    }
}

/// What became of one item: enrolled, or refused with the problem's status, code and detail.
struct ItemOutcome: Sendable {
    var item: Int
    var personID: String?
    var status: Int
    var code: String?
    var detail: String?
}

/// Sends batches, retrying what the server asks to be retried (429, 502–504, a dropped
/// connection) with the same Idempotency-Key, so no retry enrolls a face twice.
struct BatchSender: Sendable {
    let server: ServerRequest
    let key: String
    let identity: String

    static let attempts = 8

    func send(_ batch: ImportBatch) async throws -> [ItemOutcome] {
        var outcomes: [ItemOutcome] = []
        var sent: [(item: Int, person: String)] = []
        var body = Data(#"{"faces":["#.utf8)
        for (offset, item) in batch.items.enumerated() {
            switch item {
            case .unreadable(let why):
                outcomes.append(ItemOutcome(item: batch.first + offset, status: 0, code: "unreadable", detail: why))
            case .face(let person, let embedding):
                if !sent.isEmpty { body.append(UInt8(ascii: ",")) }
                body.append(Data(#"{"personId":\#(JSONValue.quote(person)),"embeddingBase64":"\#(embedding)"}"#.utf8))
                sent.append((batch.first + offset, person))
            }
        }
        body.append(Data("]}".utf8))
        guard !sent.isEmpty else { return outcomes }
        let request = body
        let headers = [("X-API-Key", key), ("Content-Type", "application/json"), ("Idempotency-Key", "import-\(identity)-\(batch.first)")]
        var attempt = 0
        while true {
            attempt += 1
            let reply: ServerRequest.Reply
            do {
                reply = try await Self.offThread { try server.send("POST", "/v1/faces:batch", headers: headers, body: request) }
            } catch {
                guard attempt < Self.attempts else { throw ImportFailure("\(error) (after \(attempt) tries)") }
                try await Task.sleep(for: .seconds(min(30, 1 << attempt)))
                continue
            }
            switch reply.status {
            case 200:
                let results = JSONValue.parse(reply.body)?["results"]?.arrayValue ?? []
                guard results.count == sent.count else { throw ImportFailure("the server answered \(results.count) results for \(sent.count) faces") }
                for (result, item) in zip(results, sent) {
                    let problem = result["problem"]
                    outcomes.append(ItemOutcome(
                        item: item.item, personID: item.person, status: result["status"]?.numberValue.flatMap { Int(exactly: $0) } ?? 0,
                        code: problem?["code"]?.stringValue, detail: problem?["detail"]?.stringValue))
                }
                return outcomes.sorted { $0.item < $1.item }
            case 429, 502, 503, 504:
                guard attempt < Self.attempts else { throw ImportFailure("the server kept answering \(reply.status) (\(attempt) tries)") }
                // Whatever the server says, between 1 and 60 seconds.
                let wait = reply.headers["retry-after"].flatMap(Int.init) ?? (1 << attempt)
                try await Task.sleep(for: .seconds(min(60, max(1, wait))))
            default:
                let problem = JSONValue.parse(reply.body)
                let detail = problem?["detail"]?.stringValue ?? String(decoding: reply.body.prefix(200), as: UTF8.self)
                let advice = reply.status == 413 ? " Send fewer faces a request (--batch)." : ""
                throw ImportFailure("the server refused a batch (\(reply.status) \(problem?["code"]?.stringValue ?? "")): \(detail)\(advice)")
            }
        }
    }

    /// A blocking request on a thread of its own, off the concurrency pool.
    static func offThread<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Swift.Result { try work() }) }
        }
    }
}
