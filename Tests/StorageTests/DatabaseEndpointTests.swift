// libpq URLs in and out: what `enface db url` prints and ENFACE_DATABASE_URL accepts.

import Testing

@testable import Storage

@Suite struct DatabaseEndpointTests {
    @Test func parsesASocketDirectoryURL() throws {
        let endpoint = try DatabaseEndpoint(url: "postgresql://enface_app:s3cret@/enface?host=/srv/run&port=6543")
        #expect(endpoint.address == .socketDirectory("/srv/run"))
        #expect(endpoint.port == 6543)
        #expect(endpoint.username == "enface_app")
        #expect(endpoint.password == "s3cret")
        #expect(endpoint.database == "enface")
        #expect(endpoint.tlsMode == .disable)
        #expect(endpoint.socketPath == "/srv/run/.s.PGSQL.6543")
    }

    @Test func parsesATCPURLWithEncodedPasswordAndSSLMode() throws {
        let endpoint = try DatabaseEndpoint(url: "postgres://owner:p%40ss%2Fword@db.example:5433/enface?sslmode=require")
        #expect(endpoint.address == .tcp(host: "db.example"))
        #expect(endpoint.port == 5433)
        #expect(endpoint.password == "p@ss/word")
        #expect(endpoint.tlsMode == .require)
    }

    @Test func tcpDefaultsToPreferringTLS() throws {
        #expect(try DatabaseEndpoint(url: "postgresql://u@localhost/db").tlsMode == .prefer)
    }

    @Test func printsAURLThatParsesBackToItself() throws {
        let endpoint = DatabaseEndpoint(
            address: .socketDirectory("/tmp/x/.data/postgres/run"), port: 5432,
            username: "enface_app", password: "abc123", database: "enface", tlsMode: .disable)
        #expect(endpoint.url == "postgresql://enface_app:abc123@/enface?host=/tmp/x/.data/postgres/run&port=5432")
        #expect(try DatabaseEndpoint(url: endpoint.url) == endpoint)
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let endpoint = try DatabaseEndpoint(url: "postgresql://u:topsecret@host/db")
        #expect(!endpoint.description.contains("topsecret"))
        #expect(!"\(endpoint)".contains("topsecret"))
    }

    @Test(arguments: [
        "mysql://u@h/db",
        "postgresql://h/db",
        "postgresql://u@h/",
        "postgresql://u@/db",
        "postgresql://u@h/db?port=99999",
        "postgresql://u@h/db?sslmode=sometimes",
        "not a url at all",
    ])
    func rejectsURLsItCannotUse(_ url: String) {
        #expect(throws: StorageError.self) { try DatabaseEndpoint(url: url) }
    }
}
