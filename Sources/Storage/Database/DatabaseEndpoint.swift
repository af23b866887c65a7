// Where and how to reach PostgreSQL as one role: parsed from, and printed as, a libpq URL.

import Foundation
import NIOSSL
import PostgresNIO

/// One role's connection parameters. Prints as a libpq URL that `psql` accepts; its
/// `description` never contains the password.
public struct DatabaseEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Address: Sendable, Equatable {
        /// A unix-domain socket directory, as libpq's `host=/dir` names it.
        case socketDirectory(String)
        case tcp(host: String)
    }

    /// libpq's `sslmode`, reduced to what PostgresNIO can honour.
    public enum TLSMode: String, Sendable, Equatable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var address: Address
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode

    public init(
        address: Address,
        port: Int = 5432,
        username: String,
        password: String?,
        database: String,
        tlsMode: TLSMode = .prefer
    ) {
        self.address = address
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
    }

    /// Parses `postgres[ql]://user:password@host:port/database?host=/socket/dir&sslmode=…`.
    public init(url string: String) throws(StorageError) {
        guard let components = URLComponents(string: string),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw .invalidDatabaseURL("expected postgresql://user:password@host:port/database")
        }
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            parameters[item.name] = item.value ?? ""
        }
        guard let username = components.user.flatMap({ $0.removingPercentEncoding }), !username.isEmpty else {
            throw .invalidDatabaseURL("the URL names no user")
        }
        let database = String(components.percentEncodedPath.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty else {
            throw .invalidDatabaseURL("the URL names no database")
        }
        let host = parameters["host"] ?? components.host?.removingPercentEncoding ?? ""
        guard !host.isEmpty else {
            throw .invalidDatabaseURL("the URL names no host or socket directory")
        }
        let port: Int
        if let text = parameters["port"] {
            guard let value = Int(text), (1...65535).contains(value) else {
                throw .invalidDatabaseURL("port must be a number from 1 to 65535")
            }
            port = value
        } else {
            port = components.port ?? 5432
        }
        let address: Address = host.hasPrefix("/") ? .socketDirectory(host) : .tcp(host: host)
        var tlsMode: TLSMode = address == .tcp(host: host) ? .prefer : .disable
        if let mode = parameters["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw .invalidDatabaseURL("unknown sslmode '\(mode)'")
            }
            tlsMode = parsed
        }
        self.init(
            address: address,
            port: port,
            username: username,
            password: components.password.flatMap { $0.removingPercentEncoding },
            database: database,
            tlsMode: tlsMode
        )
    }

    /// The libpq URL, password included: for `psql` and for `enface db url`, never for logs.
    public var url: String {
        var components = URLComponents()
        components.scheme = "postgresql"
        components.user = username
        components.password = password
        components.path = "/" + database
        var query: [URLQueryItem] = []
        switch address {
        case .socketDirectory(let directory):
            query.append(URLQueryItem(name: "host", value: directory))
            query.append(URLQueryItem(name: "port", value: String(port)))
        case .tcp(let host):
            components.host = host
            components.port = port
            query.append(URLQueryItem(name: "sslmode", value: tlsMode.rawValue))
        }
        components.queryItems = query
        // URLComponents leaves '/' unencoded in query values, which is what libpq expects.
        return components.string ?? ""
    }

    /// The URL with the password masked: safe for logs and error messages.
    public var description: String {
        var redacted = self
        if redacted.password != nil { redacted.password = "********" }
        return redacted.url
    }

    /// This endpoint with another role's credentials.
    public func with(username: String, password: String?) -> DatabaseEndpoint {
        var copy = self
        copy.username = username
        copy.password = password
        return copy
    }

    /// This endpoint pointing at another database of the same server.
    public func with(database: String) -> DatabaseEndpoint {
        var copy = self
        copy.database = database
        return copy
    }

    /// The path of the socket file PostgreSQL creates in a socket directory.
    public var socketPath: String? {
        guard case .socketDirectory(let directory) = address else { return nil }
        return "\(directory)/.s.PGSQL.\(port)"
    }

    var clientConfiguration: PostgresClient.Configuration {
        switch address {
        case .socketDirectory:
            return PostgresClient.Configuration(
                unixSocketPath: socketPath!, username: username, password: password, database: database)
        case .tcp(let host):
            return PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: clientTLS)
        }
    }

    /// For a single connection outside the pools (migrations, bootstrap, notifications).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        switch address {
        case .socketDirectory:
            return PostgresConnection.Configuration(
                unixSocketPath: socketPath!, username: username, password: password, database: database)
        case .tcp(let host):
            let tls: PostgresConnection.Configuration.TLS =
                switch tlsMode {
                case .disable: .disable
                case .allow, .prefer: .prefer(try NIOSSLContext(configuration: tlsConfiguration))
                case .require, .verifyCA, .verifyFull: .require(try NIOSSLContext(configuration: tlsConfiguration))
                }
            return PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
    }

    private var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tlsMode {
        case .verifyFull: break
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        default: configuration.certificateVerification = .none
        }
        return configuration
    }

    private var clientTLS: PostgresClient.Configuration.TLS {
        switch tlsMode {
        case .disable: .disable
        case .allow, .prefer: .prefer(tlsConfiguration)
        case .require, .verifyCA, .verifyFull: .require(tlsConfiguration)
        }
    }
}
