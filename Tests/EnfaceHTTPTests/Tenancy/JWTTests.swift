// Tenants' JWTs as an attacker would try them: forged, unsigned, confused, stale, misaddressed.

import _CryptoExtras
import Crypto
import Foundation
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct JWTTests {
    /// Two trusted issuers (HS256 and RS256), written where ENFACE_JWT_ISSUERS_FILE points. The
    /// HS issuer may speak for the tenants `slugs` names; the RS issuer maps its `org` claim's
    /// value `org-1` to the first of them.
    struct Issuers: Sendable {
        let directory: TemporaryDirectory
        let hmacSecret = String(repeating: "s3cr3t-", count: 6)
        let rsa: _RSA.Signing.PrivateKey
        let slugs: [String]

        init(slugs: [String] = (0..<3).map { _ in "jwt-" + String(UUID().uuidString.prefix(8)).lowercased() }) throws {
            self.slugs = slugs
            directory = try TemporaryDirectory()
            rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            try hmacSecret.write(to: directory.url.appendingPathComponent("hs.secret"), atomically: true, encoding: .utf8)
            try rsa.publicKey.pemRepresentation.write(
                to: directory.url.appendingPathComponent("rs.pem"), atomically: true, encoding: .utf8)
            let configuration = JWTConfiguration(issuers: [
                JWTIssuer(
                    issuer: "https://idp.example/hs", audiences: ["enface"], algorithm: "HS256", secretFile: "hs.secret",
                    tenants: slugs),
                JWTIssuer(issuer: "https://idp.example/rs", audiences: ["enface"], algorithm: "RS256", publicKeyFile: "rs.pem",
                          tenantClaim: "org", tenantMap: ["org-1": slugs[0]]),
            ])
            try JSONEncoder().encode(configuration).write(to: file)
        }

        var file: URL { directory.url.appendingPathComponent("issuers.json") }
        var environment: [String: String] { ["ENFACE_JWT_ISSUERS_FILE": file.path] }
    }

    enum Signer {
        case hmac(String), rsa(_RSA.Signing.PrivateKey), none
    }

    static func token(alg: String, _ claims: [String: JSONValue], signer: Signer) throws -> String {
        let header: JSONValue = ["alg": .string(alg), "typ": "JWT"]
        let input = base64URL(Data(header.canonical.utf8)) + "." + base64URL(Data(JSONValue.object(claims).canonical.utf8))
        let signature: Data
        switch signer {
        case .hmac(let secret):
            signature = Data(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8))))
        case .rsa(let key):
            signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
        case .none:
            signature = Data()
        }
        return input + "." + base64URL(signature)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func claims(
        _ tenant: String, issuer: String = "https://idp.example/hs", tenantClaim: String = "tid",
        expires: TimeInterval = 300, notBefore: TimeInterval? = nil, audience: JSONValue = "enface",
        scope: String = "tenant:admin search"
    ) -> [String: JSONValue] {
        let now = Date().timeIntervalSince1970
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "aud": audience, "sub": "user-1", tenantClaim: .string(tenant),
            "exp": .number((now + expires).rounded()), "iat": .number(now.rounded()), "scope": .string(scope),
        ]
        if let notBefore { claims["nbf"] = .number((now + notBefore).rounded()) }
        return claims
    }

    @Test func validTokensOfEitherIssuerActForTheirTenant() async throws {
        let issuers = try Issuers()
        try await LiveService.run(issuers.environment) { enface in
            let tenant = try await enface.createTenant(issuers.slugs[0])
            let hs = try Self.token(alg: "HS256", Self.claims(tenant.id), signer: .hmac(issuers.hmacSecret))
            let mine = try await enface.call(.get, "/v1/tenant", headers: [.authorization: "Bearer \(hs)"])
            #expect(mine.status == .ok)
            #expect(mine["tenant"]?.objectValue?["id"]?.stringValue == tenant.id)
            // The tenant claim may name it by slug too.
            let bySlug = try Self.token(alg: "HS256", Self.claims(tenant.slug), signer: .hmac(issuers.hmacSecret))
            #expect(try await enface.call(.get, "/v1/tenant", headers: [.authorization: "Bearer \(bySlug)"]).status == .ok)

            let rs = try Self.token(
                alg: "RS256", Self.claims("org-1", issuer: "https://idp.example/rs", tenantClaim: "org"), signer: .rsa(issuers.rsa))
            let mapped = try await enface.call(.get, "/v1/tenant", headers: [.authorization: "Bearer \(rs)"])
            #expect(mapped.status == .ok && mapped["tenant"]?.objectValue?["id"]?.stringValue == tenant.id, "\(mapped.body)")

            // Scopes come from the token: without tenant:admin, 403.
            let narrow = try Self.token(alg: "HS256", Self.claims(tenant.id, scope: "search"), signer: .hmac(issuers.hmacSecret))
            #expect(try await enface.call(.get, "/v1/tenant", headers: [.authorization: "Bearer \(narrow)"]).code == "insufficient_scope")
        }
    }

    @Test func forgedStaleAndMisaddressedTokensAreRefused() async throws {
        let issuers = try Issuers()
        try await LiveService.run(issuers.environment) { enface in
            let tenant = try await enface.createTenant(issuers.slugs[0])
            let gone = try await enface.createTenant(issuers.slugs[1])
            let elsewhere = try await enface.createTenant()  // a tenant neither issuer may speak for
            _ = try await enface.admin(.post, "/tenants/\(gone.id)/suspend")
            _ = try await enface.admin(.delete, "/tenants/\(gone.id)")
            let secret = Signer.hmac(issuers.hmacSecret)
            let rsIssuer = "https://idp.example/rs"
            let rsClaims = Self.claims("org-1", issuer: rsIssuer, tenantClaim: "org")
            var missingTenant = Self.claims(tenant.id)
            missingTenant["tid"] = nil
            var noExpiry = Self.claims(tenant.id)
            noExpiry["exp"] = nil

            let attempts: [(String, String)] = [
                ("bad signature", try Self.token(alg: "HS256", Self.claims(tenant.id), signer: .hmac(issuers.hmacSecret + "x"))),
                ("alg none", try Self.token(alg: "none", Self.claims(tenant.id), signer: .none)),
                ("alg none, RS issuer", try Self.token(alg: "none", rsClaims, signer: .none)),
                // HS/RS confusion: HS256 "signed" with the RS issuer's public key as the secret.
                ("HS256 with the RSA public key", try Self.token(alg: "HS256", rsClaims, signer: .hmac(issuers.rsa.publicKey.pemRepresentation))),
                ("RS256 against the HS issuer", try Self.token(alg: "RS256", Self.claims(tenant.id), signer: .rsa(issuers.rsa))),
                ("expired", try Self.token(alg: "HS256", Self.claims(tenant.id, expires: -600), signer: secret)),
                ("no expiry", try Self.token(alg: "HS256", noExpiry, signer: secret)),
                ("not yet valid", try Self.token(alg: "HS256", Self.claims(tenant.id, notBefore: 600), signer: secret)),
                ("wrong audience", try Self.token(alg: "HS256", Self.claims(tenant.id, audience: "billing"), signer: secret)),
                ("unknown issuer", try Self.token(alg: "HS256", Self.claims(tenant.id, issuer: "https://evil.example"), signer: secret)),
                ("missing tenant claim", try Self.token(alg: "HS256", missingTenant, signer: secret)),
                ("tenant claim not a UUID", try Self.token(alg: "HS256", Self.claims("acme"), signer: secret)),
                ("a tenant that does not exist", try Self.token(alg: "HS256", Self.claims(UUID().uuidString), signer: secret)),
                ("a deleted tenant", try Self.token(alg: "HS256", Self.claims(gone.id), signer: secret)),
                ("a tenant the issuer may not speak for", try Self.token(alg: "HS256", Self.claims(elsewhere.id), signer: secret)),
                ("the same by slug", try Self.token(alg: "HS256", Self.claims(elsewhere.slug), signer: secret)),
                ("a mapped claim value not in the map", try Self.token(
                    alg: "RS256", Self.claims("org-2", issuer: rsIssuer, tenantClaim: "org"), signer: .rsa(issuers.rsa))),
                ("a tenant id where the map expects its values", try Self.token(
                    alg: "RS256", Self.claims(tenant.id, issuer: rsIssuer, tenantClaim: "org"), signer: .rsa(issuers.rsa))),
            ]
            var bodies: Set<JSONValue> = []
            for (what, token) in attempts {
                let reply = try await enface.call(.get, "/v1/tenant", headers: [.authorization: "Bearer \(token)"])
                #expect(reply.status == .unauthorized, "\(what): \(reply.body)")
                bodies.insert(reply.bodyWithoutRequestID)
            }
            #expect(bodies.count == 1)
            // Speaking for another tenant is an attack on it: recorded every time, for operators.
            let named = try await poll(timeout: .seconds(20), "both foreign tokens to be recorded") { () -> [String]? in
                let audited = try await enface.admin(.get, "/audit?action=access.foreign_jwt&limit=100")
                let named = (audited["events"]?.arrayValue ?? []).compactMap {
                    $0.objectValue?["detail"]?.objectValue?["tenant"]?.stringValue
                }
                return named.filter { $0 == elsewhere.id }.count >= 2 ? named : nil
            }
            #expect(named.filter { $0 == elsewhere.id }.count == 2)
            #expect(!named.contains(tenant.id) && !named.contains(gone.id))
        }
    }

    @Test func anIssuerThatNamesNoTenantsIsRefusedAtStart() async throws {
        let directory = try TemporaryDirectory()
        try String(repeating: "k", count: 40).write(to: directory.url.appendingPathComponent("k"), atomically: true, encoding: .utf8)
        let file = directory.url.appendingPathComponent("issuers.json")
        try JSONEncoder().encode(JWTConfiguration(issuers: [
            JWTIssuer(issuer: "https://any.example", audiences: ["enface"], algorithm: "HS256", secretFile: "k")
        ])).write(to: file)
        await #expect(throws: (any Error).self) {
            try await LiveService.run(["ENFACE_JWT_ISSUERS_FILE": file.path]) { _ in }
        }
    }
}
