// JSON as Enface reads it: RFC 8259 exactly, one value, no key twice, bounded depth.

import Foundation
import Testing
import WireFormats

struct JSONParserTests {
    static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func valuesReadAsFoundationReadsThem() throws {
        let text = #"{"a":[1,-2.5,3e2,0,-0.0,1E-7],"b":{"c":"d\n\u00e9\ud83d\ude00\/"},"e":true,"f":false,"g":null}"#
        let parsed = try Self.parse(text)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(parsed == foundation)
        #expect(try Self.parse("  \t\r\n 7 \n") == 7)
        #expect(try Self.parse(#""plain""#) == "plain")
    }

    @Test func aKeyTwiceIsRefusedWithItsPointer() {
        #expect(throws: JSONSyntaxError.duplicateKey(pointer: "/a")) { try Self.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONSyntaxError.duplicateKey(pointer: "/x/1/b~1c")) {
            try Self.parse(#"{"x":[{}, {"b/c":1, "b/c":2}]}"#)
        }
        // The same key in different objects is fine.
        #expect((try? Self.parse(#"{"a":{"k":1},"b":{"k":1}}"#)) != nil)
    }

    @Test func nestingPastTheLimitIsRefusedNotRecursedInto() {
        let depth = JSONParser.maximumDepth
        #expect((try? Self.parse(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))) != nil)
        #expect(throws: JSONSyntaxError.self) {
            try Self.parse(String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1))
        }
        // A million brackets end in an error, not in a stack overflow.
        #expect(throws: JSONSyntaxError.self) { try Self.parse(String(repeating: "[", count: 1_000_000)) }
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "[,1]", #"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, "01", "1.", ".5", "+1", "-", "1e", "1e+",
        "0x10", "NaN", "Infinity", "1e999", "-1e400", "tru", "nul", "[1] 2", #""\x""#, #""\u12""#, #""\ud800""#,
        #""\udc00x""#, "\"a\u{01}b\"", "\"unterminated", "'single'", "[1 2]", String(repeating: "1", count: 65),
    ])
    func anythingElseIsRefused(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try Self.parse(text) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }  // an encoded surrogate
    }

    @Test func canonicalTextParsesBackToTheSameValue() throws {
        let value: JSONValue = ["z": [1, 2.5, "x\u{1}y\"\\"], "a": ["nested": true, "none": .null], "n": -0.001]
        #expect(try JSONParser.parse(Array(value.canonical.utf8)) == value)
    }

    @Test func fiveHundredTwelveFloatsReadExactly() throws {
        var generator = SystemRandomNumberGenerator()
        let floats = (0..<512).map { _ in Float.random(in: -1...1, using: &generator) }
        let text = "[" + floats.map { "\($0)" }.joined(separator: ",") + "]"
        let parsed = try Self.parse(text)
        #expect(parsed.arrayValue?.compactMap { if case .number(let n) = $0 { Float(n) } else { nil } } == floats)
    }
}
