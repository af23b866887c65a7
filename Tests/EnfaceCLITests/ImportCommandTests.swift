// `enface import` against a running node: a file of faces enrolled through the batch endpoint,
// refusals listed, and an interrupted import resumed without enrolling any face twice.

import Foundation
import HTTPTypes
import TestSupport
import Testing
import WireFormats

@Suite(.scratchDatabase)
struct ImportCommandTests {
    /// `persons` persons with `perPerson` faces each, as NDJSON (JSON numbers and base64 in turn).
    static func ndjson(persons: Int, perPerson: Int) -> String {
        var lines: [String] = []
        for person in 0..<persons {
            for face in 0..<perPerson {
                let vector = Node.embedding(person * 10 + face + 1)
                lines.append(
                    face % 2 == 0
                        ? #"{"personId":"p\#(person)","embedding":[\#(vector.map { "\($0)" }.joined(separator: ","))]}"#
                        : #"{"personId":"p\#(person)","embeddingBase64":"\#(base64(vector))"}"#)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func base64(_ vector: [Float]) -> String {
        var data = Data()
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data.base64EncodedString()
    }

    @Test func aFileIsImportedOnceEvenWhenARunIsInterruptedAndStartedAgain() async throws {
        let node = try await Node.start([:])
        defer { node.process.signal(SIGTERM) }
        let (_, headers) = try await node.createTenant("importer", quotas: ["requestsPerMinute": 100_000, "maxFaces": 10_000])
        let key = try #require(headers[EnfaceClient.apiKey])
        let directory = try TemporaryDirectory()
        // 300 persons × 2 faces, then a line that is not JSON and a face of the wrong length.
        try directory.write("faces.ndjson", Self.ndjson(persons: 300, perPerson: 2)
            + "not json\n" + #"{"personId":"short","embedding":[1,2,3]}"# + "\n")
        let file = directory.url.appendingPathComponent("faces.ndjson").path
        let url = "http://127.0.0.1:\(node.port)"
        let arguments = ["import", file, "--url", url, "--batch", "64", "--connections", "3"]

        let first = try await EnfaceProcess.run(arguments, environment: ["ENFACE_KEY": key], timeout: .seconds(120))
        #expect(first.status == 2, "\(first.output)")
        #expect(first.output.contains("600 faces enrolled, 2 refused"), "\(first.output)")
        let errors = try String(contentsOfFile: file + ".import-errors.ndjson", encoding: .utf8).split(separator: "\n")
        #expect(errors.count == 2)
        #expect(errors.first?.contains(#""code":"unreadable""#) == true && errors.first?.contains(#""face":601"#) == true)
        #expect(errors.last?.contains(#""code":"dimension_mismatch""#) == true && errors.last?.contains(#""personId":"short""#) == true)
        #expect(try await Self.faces(node, headers: headers, persons: 300) == 600)
        let found = try await node.persons(matching: Node.embedding(42 * 10 + 2), headers: headers)
        #expect(found.first?.person == "p42")

        // Done: running it again sends nothing.
        let again = try await EnfaceProcess.run(arguments, environment: ["ENFACE_KEY": key])
        #expect(again.status == 0 && again.output.contains("was imported already"), "\(again.output)")

        // A run stopped after sending its batches but before saving them: the saved progress
        // goes back to the start of the file's fourth batch, as it would have stood.
        let progressPath = file + ".import"
        var saved = try #require(JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: progressPath)))?.objectValue)
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let offset = lines.prefix(3 * 64).reduce(0) { $0 + $1.utf8.count + 1 }
        saved["position"] = ["item": 192, "offset": .number(Double(offset)), "personsOffset": 0]
        saved["enrolled"] = 192
        saved["refused"] = 0
        try Data(JSONValue.object(saved).canonical.utf8).write(to: URL(fileURLWithPath: progressPath))
        let resumed = try await EnfaceProcess.run(arguments, environment: ["ENFACE_KEY": key], timeout: .seconds(120))
        #expect(resumed.status == 2 && resumed.output.contains("resuming at face 193"), "\(resumed.output)")
        #expect(resumed.output.contains("600 faces enrolled, 2 refused"), "\(resumed.output)")
        // Every batch after it was answered from the server's store: still 600 faces, two a person.
        #expect(try await Self.faces(node, headers: headers, persons: 300) == 600)

        // --restart sends the file again under keys of its own: each person takes one more face,
        // up to its limit of 3 (the other is refused, and listed).
        let restarted = try await EnfaceProcess.run(arguments + ["--restart"], environment: ["ENFACE_KEY": key], timeout: .seconds(120))
        #expect(restarted.status == 2 && restarted.output.contains("300 faces enrolled, 302 refused"), "\(restarted.output)")
        #expect(try await Self.faces(node, headers: headers, persons: 300) == 900)
        // Its progress is its own: run again without --restart, it is done.
        let after = try await EnfaceProcess.run(arguments, environment: ["ENFACE_KEY": key])
        #expect(after.status == 0 && after.output.contains("was imported already"), "\(after.output)")

        // A wrong key stops the import with the server's reason, and a non-zero status.
        let refused = try await EnfaceProcess.run(arguments + ["--restart"], environment: ["ENFACE_KEY": "efk_wrong"])
        #expect(refused.status == 1 && refused.output.contains("401") && refused.output.contains("without --restart"), "\(refused.output)")
    }

    /// Every person's face count, summed.
    static func faces(_ node: Node, headers: HTTPFields, persons: Int) async throws -> Int {
        var total = 0
        var after: String?
        repeat {
            let page = try await node.client.call(
                .get, "/v1/persons?limit=1000" + (after.map { "&after=\($0)" } ?? ""), headers: headers)
            let listed = page["persons"]?.arrayValue ?? []
            total += listed.reduce(0) { $0 + Int($1["faceCount"]?.numberValue ?? 0) }
            after = page["next"]?.stringValue
        } while after != nil
        return total
    }
}
