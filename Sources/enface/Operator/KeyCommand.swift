// `enface key …`: a tenant's API keys, from a shell.

import ArgumentParser
import FaceService
import Foundation
import Tenancy
import WireFormats

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Create, list and revoke a tenant's API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its text is printed once.")
        @Argument(help: "The tenant's id or slug.") var tenant: String
        @Option(help: "What the key is for.") var name: String
        @Option(name: .customLong("scope"), help: "A scope to grant (repeat): \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
        var scopes: [String] = Scope.allCases.map(\.rawValue)
        @Option(help: "When it stops working, RFC 3339.") var expiresAt: String?

        func run() async throws {
            try await OperatorSession.run { session in
                var request: [String: JSONValue] = ["name": .string(name), "scopes": .array(scopes.map(JSONValue.string))]
                if let expiresAt { request["expiresAt"] = .string(expiresAt) }
                let created = try await session.administration.createKey(
                    tenant: try await session.tenantID(tenant), .object(request), by: session.actor)
                try printJSON(CreatedKey(apiKey: created.secret.text, key: created.key))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys (never their text).")
        @Argument(help: "The tenant's id or slug.") var tenant: String

        func run() async throws {
            try await OperatorSession.run { session in
                try printJSON(try await session.administration.keys(tenant: try await session.tenantID(tenant)))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key at once.")
        @Argument(help: "The tenant's id or slug.") var tenant: String
        @Argument(help: "The key's id.") var key: String

        func run() async throws {
            guard let keyID = UUID(uuidString: key) else { throw ValidationError("a key id is a UUID") }
            try await OperatorSession.run { session in
                try await session.administration.revokeKey(
                    tenant: try await session.tenantID(tenant), key: keyID, by: session.actor)
                print("revoked \(keyID.uuidString.lowercased())")
            }
        }
    }
}

struct CreatedKey: Encodable {
    var apiKey: String
    var key: APIKeyInfo
}
