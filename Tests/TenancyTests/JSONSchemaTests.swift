// The JSON Schema subset the provisioning file is checked with, and the shipped schema itself.

import Foundation
import Tenancy
import Testing
import WireFormats

@Suite struct JSONSchemaTests {
    func errors(_ schema: JSONValue, _ instance: JSONValue) throws -> [String] {
        try JSONSchema(schema).errors(instance).map { "\($0.pointer) \($0.code)" }
    }

    @Test func typesRangesPatternsAndRequiredFields() throws {
        let schema: JSONValue = [
            "type": "object", "required": ["id"], "additionalProperties": false,
            "properties": [
                "id": ["type": "string", "pattern": "^[a-z]+$", "maxLength": 5],
                "n": ["type": "integer", "minimum": 1, "maximum": 3],
                "kind": ["enum": ["a", "b"]],
                "list": ["type": "array", "maxItems": 2, "items": ["type": "number"]],
            ],
        ]
        #expect(try errors(schema, ["id": "abc", "n": 2, "kind": "a", "list": [1, 2.5]]).isEmpty)
        let found = try errors(schema, ["n": 4.5, "kind": "c", "list": [1, "x", 3], "extra": 1])
        #expect(found.contains { $0.hasSuffix(" required") }, "the missing id: \(found)")
        #expect(found.contains { $0.hasPrefix("/n ") })
        #expect(found.contains { $0.hasPrefix("/kind ") })
        #expect(found.contains { $0.hasPrefix("/list/1 ") })
        #expect(found.contains { $0.hasPrefix("/list ") })
        #expect(found.contains { $0.hasPrefix("/extra ") })
        #expect(try errors(schema, ["id": "ABC"]).contains { $0.hasPrefix("/id ") })
        let notAnObject = try errors(schema, "not an object")
        #expect(notAnObject.count == 1 && notAnObject[0].hasPrefix("/"), "\(notAnObject)")
    }

    @Test func whatTheValidatorCannotCheckIsRefusedWhenLoadedNotSkipped() throws {
        func refusal(_ schema: JSONValue) -> [String] {
            do {
                _ = try JSONSchema(schema)
                return []
            } catch {
                return error.errors.map { "\($0.pointer) \($0.code)" }
            }
        }
        #expect(refusal(["type": "string", "patternProperties": ["^x": ["type": "string"]]]) == ["/patternProperties unsupported_keyword"])
        #expect(refusal(["properties": ["id": ["type": "string", "pattern": "([a-z"]]]) == ["/properties/id/pattern invalid_pattern"])
        #expect(refusal(["items": ["$ref": "#/$defs/missing"]]) == ["/items/$ref unresolved_reference"])
        #expect(refusal(["oneOf": []]) == ["/oneOf invalid_schema"])
        // Inside a referenced schema too.
        #expect(refusal(["$ref": "#/$defs/a", "$defs": ["a": ["if": ["type": "string"]]]]).contains("#/$defs/a/if unsupported_keyword"))
        // Annotations are allowed and change nothing.
        #expect(refusal(["type": "string", "format": "uuid", "description": "an id", "examples": ["x"]]) == [])
    }

    @Test func compositionAndReferencesIntoTheEnclosingDocument() throws {
        let document: JSONValue = [
            "components": ["schemas": [
                "Id": ["type": "string", "minLength": 2],
                "Named": ["type": "object", "required": ["name"]],
            ]]
        ]
        let schema: JSONValue = [
            "allOf": [["$ref": "#/components/schemas/Named"], ["properties": ["id": ["$ref": "#/components/schemas/Id"]]]],
            "properties": ["kind": ["oneOf": [["type": "integer"], ["type": "number", "minimum": 10]]],
                           "tag": ["anyOf": [["type": "string"], ["type": "null"]]]],
        ]
        let checker = try JSONSchema(schema, in: document)
        func found(_ instance: JSONValue) -> [String] { checker.errors(instance).map { "\($0.pointer) \($0.code)" } }
        #expect(found(["name": "n", "id": "ab", "kind": 15.5, "tag": .null]) == [])
        #expect(found(["id": "a"]) == ["/name required", "/id out_of_range"])
        // 20 is an integer and a number ≥ 10: both alternatives match, which oneOf forbids.
        #expect(found(["name": "n", "kind": 20]) == ["/kind no_match"])
        #expect(found(["name": "n", "tag": 1]) == ["/tag no_match"])
    }

    @Test func theShippedSchemaAcceptsTheExampleAndRejectsMistakesWithPointers() throws {
        let schema = try ProvisioningFile.schema()
        let good = try #require(JSONValue.parse(Data("""
            {"tenants": [{"slug": "acme", "name": "Acme", "plan": "pro", "status": "active",
                          "settings": {"matchThreshold": 0.5, "features": {"x": true}}, "quotas": {"maxFaces": 100}}]}
            """.utf8)))
        #expect(schema.errors(good).isEmpty)
        let bad = try #require(JSONValue.parse(Data("""
            {"tenants": [{"slug": "Acme!", "plan": "gold", "settings": {"matchThreshold": 2}, "quotas": {"maxFaces": -1}}], "extra": 1}
            """.utf8)))
        let pointers = Set(schema.errors(bad).map(\.pointer))
        for pointer in ["/tenants/0/slug", "/tenants/0/plan", "/tenants/0/settings/matchThreshold", "/tenants/0/quotas/maxFaces", "/extra"] {
            #expect(pointers.contains(pointer), "\(pointer) in \(pointers)")
        }
        #expect(pointers.contains("/tenants/0/name") || pointers.contains("/tenants/0"), "the missing name: \(pointers)")
    }

    @Test func parsingAFileReportsDuplicatesAndUnknownModels() throws {
        let data = Data("""
            {"tenants": [{"slug": "acme", "name": "A"}, {"slug": "acme", "name": "B"}, {"slug": "beta", "name": "C", "model": "nope"}]}
            """.utf8)
        do {
            _ = try ProvisioningFile.parse(data, models: try ModelCatalog.bundled())
            Issue.record("accepted")
        } catch let failure as ValidationFailure {
            #expect(Set(failure.errors.map(\.pointer)) == ["/tenants/1/slug", "/tenants/2/model"])
        }
        let tenants = try ProvisioningFile.parse(Data(#"{"tenants": [{"slug": "acme", "name": "A"}]}"#.utf8), models: try ModelCatalog.bundled())
        // What the file leaves out is nil: "as it is" for a tenant that exists, the default for a new one.
        #expect(tenants.first?.status == nil && tenants.first?.plan == nil && tenants.first?.quotas == nil)
    }
}
