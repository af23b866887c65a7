// Configuration from environment variables: defaults that run on one machine, strict parsing.

import EnfaceHTTP
import Foundation
import Storage
import TestSupport
import Testing

@Suite struct ConfigurationTests {
    @Test func withNothingSetItServesLoopbackOn8080WithTheEmbeddedDatabase() throws {
        let configuration = try EnfaceConfiguration(environment: [:])
        #expect(configuration.httpHost == "127.0.0.1")
        #expect(configuration.httpPort == 8080)
        #expect(configuration.migrateOnStart)
        #expect(configuration.dataDirectory.lastPathComponent == ".data")
        guard case .embedded(let postgres) = configuration.database else {
            Issue.record("expected the embedded database")
            return
        }
        #expect(postgres.options.dataDirectory == configuration.dataDirectory)
        #expect(!postgres.options.listenOnLoopback)
    }

    @Test func theDataDirectoryMovesTheDatabaseToo() throws {
        let configuration = try EnfaceConfiguration(environment: ["ENFACE_DATA_DIR": "/srv/enface"])
        guard case .embedded(let postgres) = configuration.database else {
            Issue.record("expected the embedded database")
            return
        }
        #expect(postgres.clusterDirectory.path == "/srv/enface/postgres/data")
        #expect(postgres.socketDirectory.path == "/srv/enface/postgres/run")
        #expect(postgres.secretsFile.path == "/srv/enface/secrets/database.json")
    }

    @Test(arguments: [
        ("ENFACE_HTTP_PORT", "80a"), ("ENFACE_HTTP_PORT", "70000"), ("ENFACE_HTTP_PORT", "-1"),
        ("ENFACE_MIGRATE_ON_START", "maybe"), ("ENFACE_LOG_LEVEL", "loud"),
        ("ENFACE_DATABASE_POOL_SIZE", "0"), ("ENFACE_POSTGRES_LOOPBACK", "2"),
        ("ENFACE_DATABASE_URL", "mysql://x@y/z"),
    ])
    func aMalformedValueIsAnErrorNamingTheVariable(_ variable: String, _ value: String) {
        #expect {
            try EnfaceConfiguration(environment: [variable: value])
        } throws: { error in
            guard case ConfigurationError.invalid(let named, _) = error else { return false }
            return named == variable
        }
    }

    @Test func anExternalDatabaseNeedsTheAppAndAdminRoles() throws {
        let owner = "postgresql://enface_owner:pw@db.internal:5432/enface"
        #expect(throws: ConfigurationError.invalid(
            variable: "ENFACE_DATABASE_APP_URL", reason: "required for an external database")
        ) {
            try EnfaceConfiguration(environment: ["ENFACE_DATABASE_URL": owner])
        }
        let configuration = try EnfaceConfiguration(environment: [
            "ENFACE_DATABASE_URL": owner,
            "ENFACE_DATABASE_APP_URL": "postgresql://enface_app:pw@db.internal:5432/enface",
            "ENFACE_DATABASE_ADMIN_URL": "postgresql://enface_admin:pw@db.internal:5432/enface",
        ])
        #expect(try configuration.database.endpoint(for: .admin).username == "enface_admin")
    }

    @Test func aServingNodeNeedsNoOwnersCredentials() throws {
        let roles = [
            "ENFACE_DATABASE_APP_URL": "postgresql://enface_app:pw@db.internal:5432/enface",
            "ENFACE_DATABASE_ADMIN_URL": "postgresql://enface_admin:pw@db.internal:5432/enface",
        ]
        // Migrating on start needs the owner: refused, saying what to do instead.
        #expect(throws: ConfigurationError.self) { try EnfaceConfiguration(environment: roles) }
        let serving = try EnfaceConfiguration(environment: roles.merging(["ENFACE_MIGRATE_ON_START": "false"]) { $1 })
        #expect(try serving.database.endpoint(for: .app).username == "enface_app")
        #expect(throws: StorageError.self) { try serving.database.endpoint(for: .owner) }
    }

    @Test func theReadmeDocumentsEveryVariableEnfaceReads() throws {
        let readme = try String(
            contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for variable in EnfaceConfiguration.variables {
            #expect(readme.contains("`\(variable.name)`"), "README does not document \(variable.name)")
        }
        // And the code reads nothing it does not list: every ENFACE_ name in the sources is listed.
        let listed = Set(EnfaceConfiguration.variables.map(\.name))
        let sources = TestEnvironment.repositoryRoot.appendingPathComponent("Sources")
        let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = enumerator?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: /"(ENFACE_[A-Z_]+)"/) {
                #expect(listed.contains(String(match.1)), "\(file.lastPathComponent) reads \(match.1), which is not listed")
            }
        }
    }
}
