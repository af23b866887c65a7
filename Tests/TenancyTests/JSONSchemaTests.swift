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
