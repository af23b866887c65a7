// The served contract, as the tests hold every answer to it: Sources/EnfaceHTTP/OpenAPI/openapi.yaml
// read with Yams, each answer's status looked up under its route and method, and its body checked
// against that response's schema with the same JSON Schema validator the provisioning files use.

import Foundation
import Tenancy
import WireFormats
import Yams

public struct OpenAPIContract: Sendable {
    /// The document, as JSON.
    public let document: JSONValue
    /// Why the document could not be read, if it could not: every check then reports it.
    public let unreadable: String?
    /// Each path template split into segments (`{name}` matches any one segment).
    let templates: [(path: String, segments: [Substring])]

    /// The document in this checkout.
    public static let served = OpenAPIContract(
        contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("Sources/EnfaceHTTP/OpenAPI/openapi.yaml"))

    public init(contentsOf url: URL) {
        do {
            try self.init(yaml: String(contentsOf: url, encoding: .utf8))
        } catch {
            self.init(document: .null, unreadable: "\(url.lastPathComponent) could not be read: \(error)")
        }
    }

    public init(yaml: String) throws {
        guard let node = try Yams.compose(yaml: yaml) else { throw ExplainedError(description: "the document is empty") }
        self.init(document: try Self.json(node), unreadable: nil)
    }

    private init(document: JSONValue, unreadable: String?) {
        self.document = document
        self.unreadable = unreadable
        self.templates = (document.objectValue?["paths"]?.objectValue ?? [:]).keys.sorted().map {
            ($0, $0.split(separator: "/", omittingEmptySubsequences: false))
        }
    }

    /// Everything wrong with one answer: a route, method or status the document does not list, a
    /// media type it does not name, or a body that breaks the response's schema. Routes the
    /// document does not have (a mistyped path, a wrong method) may answer only a problem.
    public func violations(method: String, path: String, status: Int, contentType: String?, body: [UInt8]) -> [String] {
        if let unreadable { return [unreadable] }
        let method = method.lowercased()
        let route = "\(method.uppercased()) \(path) → \(status)"
        // CORS preflights are answered for every path, as README says, with no body.
        if method == "options" { return body.isEmpty ? [] : ["\(route): a preflight answer has a body"] }
        guard let template = template(for: path), let operation = operation(template, method) else {
            guard status >= 400 else { return ["\(route): the document has no such operation"] }
            return check(body, contentType: contentType, against: response(["$ref": "#/components/responses/Problem"]), route)
        }
        let responses = operation.objectValue?["responses"]?.objectValue ?? [:]
        guard let declared = responses[String(status)] ?? responses["\(status / 100)XX"] ?? responses["default"] else {
            return ["\(route): status \(status) is not documented for \(method.uppercased()) \(template)"]
        }
        return check(body, contentType: contentType, against: response(declared), route)
    }

    /// The path template a concrete path is answered by, preferring literal segments to parameters.
    public func template(for path: String) -> String? {
        let concrete = (path.split(separator: "?", maxSplits: 1).first ?? "").split(separator: "/", omittingEmptySubsequences: false)
        func literals(_ segments: [Substring]) -> Int { segments.count { !$0.hasPrefix("{") } }
        return
            templates
            .filter { candidate in
                candidate.segments.count == concrete.count
                    && zip(candidate.segments, concrete).allSatisfy { template, segment in
                        template.hasPrefix("{") ? !segment.isEmpty : template == segment
                    }
            }
            .max { literals($0.segments) < literals($1.segments) }?.path
    }

    private func operation(_ template: String, _ method: String) -> JSONValue? {
        document.objectValue?["paths"]?.objectValue?[template]?.objectValue?[method]
    }

    /// A response object, following one `$ref`.
    private func response(_ declared: JSONValue) -> JSONValue {
        guard case .string(let reference)? = declared.objectValue?["$ref"] else { return declared }
        return JSONSchema.resolve(reference, in: document) ?? .null
    }

    private func check(_ body: [UInt8], contentType: String?, against response: JSONValue, _ route: String) -> [String] {
        guard let content = response.objectValue?["content"]?.objectValue, !content.isEmpty else {
            return body.isEmpty ? [] : ["\(route): the document says no body, the answer has \(body.count) bytes"]
        }
        if body.isEmpty { return ["\(route): the document describes a body, the answer has none"] }
        let mediaType = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard let declared = content[mediaType] else {
            return ["\(route): media type '\(mediaType)' is not one of \(content.keys.sorted())"]
        }
        guard mediaType == "application/json" || mediaType.hasSuffix("+json") else { return [] }
        guard let instance = JSONValue.parse(Data(body)) else { return ["\(route): the body is not JSON"] }
        guard let schema = declared.objectValue?["schema"] else { return [] }
        do {
            return try JSONSchema(schema, in: document).errors(instance).map {
                "\(route): \($0.pointer) \($0.detail) (\($0.code))"
            }
        } catch {
            return ["\(route): the document's schema cannot be checked: \(error.errors.map { "\($0.pointer) \($0.detail)" })"]
        }
    }

    /// YAML as JSON: scalars by their resolved tag (`"200"` stays a string, `200` is a number).
    static func json(_ node: Node) throws -> JSONValue {
        switch node {
        case .scalar:
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case Tag.Name.null: return .null
            case Tag.Name.bool: return node.bool.map(JSONValue.bool) ?? .string(node.string ?? "")
            case Tag.Name.int, Tag.Name.float: return node.float.map(JSONValue.number) ?? .string(node.string ?? "")
            default: return .string(node.string ?? "")
            }
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw ExplainedError(description: "a mapping key that is not a string at \(key.mark.map { "\($0)" } ?? "?")") }
                guard object[name] == nil else { throw ExplainedError(description: "\(name) is named twice") }
                object[name] = try json(value)
            }
            return .object(object)
        case .sequence(let sequence):
            return .array(try sequence.map(json))
        case .alias:
            throw ExplainedError(description: "the document uses a YAML alias")
        }
    }
}
