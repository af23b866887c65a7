// Log lines are one valid JSON object each, whatever the message holds.

import EnfaceHTTP
import Foundation
import Logging
import Synchronization
import Testing

@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    func logger(into lines: Lines) -> Logger {
        Logger(label: "test") { label in
            JSONLogHandler(label: label, logLevel: .info) { line in lines.lines.withLock { $0.append(line) } }
        }
    }

    @Test func writesOneParsableObjectPerLine() throws {
        let lines = Lines()
        var logger = logger(into: lines)
        logger[metadataKey: "hb.request.id"] = "abc"
        logger.info("quote \" backslash \\ newline \n tab \t bell \u{07}", metadata: ["n": "1", "list": ["a", "b"]])
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07}")
        #expect(object["requestId"] as? String == "abc")
        #expect(object["level"] as? String == "info")
        #expect(object["list"] as? [String] == ["a", "b"])
        #expect(object["ts"] is String)
    }

    @Test func respectsTheLevel() {
        let lines = Lines()
        let logger = logger(into: lines)
        logger.debug("hidden")
        logger.warning("shown")
        #expect(lines.all.count == 1)
    }
}
