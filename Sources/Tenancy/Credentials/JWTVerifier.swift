// Tenant credentials as JWTs from identity providers the operator trusts.

import Foundation
import JWTKit
import WireFormats

/// One trusted issuer: its name (`iss`), accepted audiences, its single signing algorithm (an
/// allow-list of one: never `none`, never an algorithm the key was not made for) and its key.
public struct JWTIssuer: Sendable, Codable, Equatable {
    public var issuer: String
    public var audiences: [String]
    /// HS256, HS384, HS512, RS256, RS384, RS512, ES256 or ES384.
    public var algorithm: String
    /// HS*: a file holding the shared secret.
    public var secretFile: String?
    /// RS*/ES*: a PEM public key (or certificate) file.
    public var publicKeyFile: String?
    /// RS*/ES*: a JWKS file, keys chosen by `kid`.
    public var jwksFile: String?
    /// The claim naming the tenant (its id or slug); `tid` unless said otherwise.
    public var tenantClaim: String?
    /// The tenants (ids or slugs) this issuer may speak for. A token naming any other is refused
    /// and audited: one identity provider must not be able to act for every tenant.
    public var tenants: [String]?
    /// Instead of `tenants`: the claim's values this issuer uses, each mapped to the tenant (id
    /// or slug) it stands for; a value not listed names no tenant.
    public var tenantMap: [String: String]?
    /// Clock skew tolerated on `exp` and `nbf`.
    public var leewaySeconds: Int?

    public init(
        issuer: String, audiences: [String], algorithm: String, secretFile: String? = nil, publicKeyFile: String? = nil,
        jwksFile: String? = nil, tenantClaim: String? = nil, tenants: [String]? = nil, tenantMap: [String: String]? = nil,
        leewaySeconds: Int? = nil
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.algorithm = algorithm
        self.secretFile = secretFile
        self.publicKeyFile = publicKeyFile
        self.jwksFile = jwksFile
        self.tenantClaim = tenantClaim
        self.tenants = tenants
        self.tenantMap = tenantMap
        self.leewaySeconds = leewaySeconds
    }
}

/// The file `ENFACE_JWT_ISSUERS_FILE` names: `{"issuers": [JWTIssuer, …]}`.
public struct JWTConfiguration: Sendable, Codable, Equatable {
    public var issuers: [JWTIssuer]

    public init(issuers: [JWTIssuer]) {
        self.issuers = issuers
    }
}

/// Why a token was refused. All become the same 401 on the wire; the reason goes to metrics.
public enum JWTRejection: String, Error, Sendable {
    case malformed, algorithmNotAllowed, unknownIssuer, badSignature, expired, notYetValid
    case wrongAudience, missingExpiry, missingTenant
}

/// A tenant as a credential or a file names it.
public enum TenantReference: Sendable, Hashable {
    case id(UUID)
    case slug(String)

    /// A UUID names a tenant by id; anything shaped like a slug, by slug.
    public init?(_ text: String) {
        if let id = UUID(uuidString: text) {
            self = .id(id)
        } else if Tenant.isValidSlug(text) {
            self = .slug(text)
        } else {
            return nil
        }
    }

    /// Whether `tenant` is the one named.
    public func names(_ tenant: Tenant) -> Bool {
        switch self {
        case .id(let id): id == tenant.id
        case .slug(let slug): slug == tenant.slug
        }
    }
}

/// What a verified token says.
public struct VerifiedToken: Sendable, Equatable {
    public var issuer: String
    public var subject: String?
    /// The tenant the token names (after the issuer's `tenantMap`, if any).
    public var tenant: TenantReference
    /// The tenants its issuer may speak for.
    public var allowedTenants: Set<TenantReference>
    public var scopes: Set<Scope>
    public var expiresAt: Date
}

public final class JWTVerifier: Sendable {
    struct Trusted: Sendable {
        var issuer: JWTIssuer
        var keys: JWTKeyCollection
        /// `tenants`, or the values of `tenantMap`.
        var allowed: Set<TenantReference>
    }

    private let trusted: [String: Trusted]

    static let algorithms: Set = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"]

    /// Loads every issuer's key; file names are relative to `directory`.
    public init(configuration: JWTConfiguration, relativeTo directory: URL) async throws {
        var trusted: [String: Trusted] = [:]
        for issuer in configuration.issuers {
            guard Self.algorithms.contains(issuer.algorithm) else {
                throw ValidationFailure(pointer: "/issuers/\(issuer.issuer)/algorithm", code: "not_allowed",
                                        detail: "\(issuer.algorithm) is not an accepted algorithm")
            }
            func read(_ file: String) throws -> String {
                try String(contentsOf: URL(fileURLWithPath: file, relativeTo: directory), encoding: .utf8)
            }
            let keys = JWTKeyCollection()
            let digest: DigestAlgorithm =
                issuer.algorithm.hasSuffix("512") ? .sha512 : issuer.algorithm.hasSuffix("384") ? .sha384 : .sha256
            switch (issuer.algorithm.prefix(2), issuer.secretFile, issuer.publicKeyFile, issuer.jwksFile) {
            case ("HS", let secret?, nil, nil):
                let text = try read(secret).trimmingCharacters(in: .whitespacesAndNewlines)
                guard text.utf8.count >= 32 else {
                    throw ValidationFailure(pointer: "/issuers/\(issuer.issuer)/secretFile", code: "out_of_range",
                                            detail: "an HMAC secret needs at least 32 bytes")
                }
                await keys.add(hmac: HMACKey(from: text), digestAlgorithm: digest)
            case ("RS", nil, let pem?, nil):
                let text = try read(pem)
                let key = text.contains("CERTIFICATE")
                    ? try Insecure.RSA.PublicKey(certificatePEM: text) : try Insecure.RSA.PublicKey(pem: text)
                await keys.add(rsa: key, digestAlgorithm: digest)
            case ("ES", nil, let pem?, nil):
                if issuer.algorithm == "ES256" {
                    await keys.add(ecdsa: try ES256PublicKey(pem: read(pem)))
                } else {
                    await keys.add(ecdsa: try ES384PublicKey(pem: read(pem)))
                }
            case ("RS", nil, nil, let jwks?), ("ES", nil, nil, let jwks?):
                try await keys.add(jwksJSON: read(jwks))
            default:
                throw ValidationFailure(
                    pointer: "/issuers/\(issuer.issuer)", code: "invalid_format",
                    detail: "HS* needs secretFile; RS*/ES* need publicKeyFile or jwksFile (exactly one)")
            }
            trusted[issuer.issuer] = Trusted(issuer: issuer, keys: keys, allowed: try Self.allowedTenants(issuer))
        }
        self.trusted = trusted
    }

    public var isEmpty: Bool { trusted.isEmpty }

    /// The tenants an issuer names, each an id or a slug; exactly one of `tenants` and
    /// `tenantMap`, never empty: an issuer that may speak for any tenant is refused at start.
    static func allowedTenants(_ issuer: JWTIssuer) throws(ValidationFailure) -> Set<TenantReference> {
        let pointer = "/issuers/\(issuer.issuer)"
        let named: [String]
        switch (issuer.tenants, issuer.tenantMap) {
        case (let tenants?, nil): named = tenants
        case (nil, let map?): named = Array(map.values)
        default:
            throw ValidationFailure(
                pointer: pointer, code: "required",
                detail: "name the tenants this issuer may speak for: tenants (ids or slugs) or tenantMap (claim value → tenant)")
        }
        var allowed = Set<TenantReference>()
        for text in named {
            guard let reference = TenantReference(text) else {
                throw ValidationFailure(pointer: pointer, code: "invalid_format", detail: "\(text) is neither a tenant id nor a slug")
            }
            allowed.insert(reference)
        }
        guard !allowed.isEmpty else {
            throw ValidationFailure(pointer: pointer, code: "out_of_range", detail: "an issuer must name at least one tenant")
        }
        return allowed
    }

    /// Whether `text` has the shape of a JWT (three base64url parts), as opposed to an API key.
    public static func looksLikeJWT(_ text: String) -> Bool {
        text.split(separator: ".", omittingEmptySubsequences: false).count == 3 && !text.hasPrefix("efk_")
    }

    /// Verifies signature, algorithm, issuer, audience, expiry and not-before, and reads the
    /// tenant and scopes.
    public func verify(_ token: String, now: Date = Date()) async throws(JWTRejection) -> VerifiedToken {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 16_384,
              let header = Self.object(fromBase64URL: parts[0]),
              let claims = Self.object(fromBase64URL: parts[1])
        else { throw .malformed }
        guard case .string(let issuerName)? = claims["iss"], let trusted = trusted[issuerName] else {
            throw .unknownIssuer
        }
        // The header's algorithm must be the one this issuer uses: `none`, or HS256 signed with
        // an RSA public key as the secret, are refused before any signature check.
        guard case .string(let algorithm)? = header["alg"], algorithm == trusted.issuer.algorithm else {
            throw .algorithmNotAllowed
        }
        do {
            _ = try await trusted.keys.verify(token, as: OpaqueClaims.self)
        } catch {
            throw .badSignature
        }
        let leeway = TimeInterval(trusted.issuer.leewaySeconds ?? 30)
        guard case .number(let expiry)? = claims["exp"] else { throw .missingExpiry }
        guard now.timeIntervalSince1970 < expiry + leeway else { throw .expired }
        if case .number(let notBefore)? = claims["nbf"], now.timeIntervalSince1970 + leeway < notBefore {
            throw .notYetValid
        }
        let audiences: [String] =
            switch claims["aud"] {
            case .string(let audience)?: [audience]
            case .array(let items)?: items.compactMap { if case .string(let value) = $0 { value } else { nil } }
            default: []
            }
        guard audiences.contains(where: trusted.issuer.audiences.contains) else { throw .wrongAudience }
        guard case .string(let claimed)? = claims[trusted.issuer.tenantClaim ?? "tid"] else { throw .missingTenant }
        let named: String?
        if let map = trusted.issuer.tenantMap { named = map[claimed] } else { named = claimed }
        guard let named, let tenant = TenantReference(named) else { throw .missingTenant }
        let names: [String] =
            switch (claims["scope"], claims["scp"]) {
            case (.string(let scope)?, _): scope.split(separator: " ").map(String.init)
            case (_, .array(let items)?): items.compactMap { if case .string(let value) = $0 { value } else { nil } }
            case (_, .string(let scope)?): scope.split(separator: " ").map(String.init)
            default: []
            }
        var subject: String?
        if case .string(let value)? = claims["sub"] { subject = value }
        return VerifiedToken(
            issuer: issuerName, subject: subject, tenant: tenant, allowedTenants: trusted.allowed,
            scopes: Scope.parse(names).scopes, expiresAt: Date(timeIntervalSince1970: expiry))
    }

    static func object(fromBase64URL part: Substring) -> [String: JSONValue]? {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        return JSONValue.parse(data)?.objectValue
    }
}

/// jwt-kit checks only the signature with it; the claims are checked above, by name.
struct OpaqueClaims: JWTPayload {
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {}
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
