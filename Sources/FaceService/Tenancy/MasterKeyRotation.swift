// Rotating the master key: every key it wraps is re-wrapped under the new one, nothing else moves.

import Crypto
import Foundation
import PostgresNIO
import Storage
import TemplateProtection
import Tenancy
import WireFormats

/// Re-wraps every tenant key and every platform key from one master key to another, in one
/// transaction. Tenant keys, person keys and sealed templates stay as they are (a rotation is
/// 61 bytes a tenant, not a re-encryption of every face), and the audit chain's key stays the
/// same key, so every chain written before the rotation verifies after it.
///
/// Nodes hold the master key in memory, so every node must be stopped first and started with
/// the new key afterwards: a node still running on the old key could not open a tenant key it
/// had not opened yet, and would wrap new tenants' keys under the old one. `rotate` refuses
/// while another Enface node is connected to the database.
public struct MasterKeyRotation: Sendable {
    let admin: PostgresPool

    public init(admin: PostgresPool) {
        self.admin = admin
    }

    public struct Report: Sendable, Encodable, Equatable {
        /// Fingerprints of the old and the new master key.
        public var from: String
        public var to: String
        public var tenantKeys: Int
        public var platformKeys: Int
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case sameKey
        /// Connections of the data plane's role: an Enface node is running.
        case nodesRunning(Int)
        /// A wrapped key does not open with the current master key.
        case wrongMasterKey(tenant: UUID?)

        public var description: String {
            switch self {
            case .sameKey: "the new master key is the current one"
            case .nodesRunning(let count):
                "\(count) connection(s) of enface_app are open: stop every Enface node first (or pass --force)"
            case .wrongMasterKey(let tenant?): "tenant \(tenant.uuidString.lowercased())'s key does not open with the current master key"
            case .wrongMasterKey(nil): "the audit chain's key does not open with the current master key"
            }
        }
    }

    /// The data plane's connections to this database: each running node holds at least one
    /// (its change listener).
    public func runningNodeConnections() async throws -> Int {
        try await admin.connections(of: .app)
    }

    public func rotate(from old: MasterKey, to new: MasterKey, force: Bool = false, by actor: String) async throws -> Report {
        guard old.fingerprint != new.fingerprint else { throw Refusal.sameKey }
        if !force {
            let connections = try await runningNodeConnections()
            guard connections == 0 else { throw Refusal.nodesRunning(connections) }
        }
        let audit = AuditTrail(masterKey: old)
        return try await admin.withTenant(AuditEvent.platform) { transaction in
            // The audit key is stored before it is re-wrapped, for a database that never had one.
            do {
                _ = try await audit.keyring(on: transaction.connection, logger: transaction.logger)
            } catch KeyError.cannotUnwrap {
                throw Refusal.wrongMasterKey(tenant: nil)
            }
            var report = Report(from: old.fingerprint, to: new.fingerprint, tenantKeys: 0, platformKeys: 0)
            for (id, wrapped) in try await TenantRepository.lockWrappedKeys(on: transaction.connection, logger: transaction.logger) {
                let key: TenantKey
                do { key = try old.unwrapTenantKey(wrapped, tenantID: id) } catch { throw Refusal.wrongMasterKey(tenant: id) }
                try await TenantRepository.rewrapKey(
                    of: id, as: try new.wrap(key, tenantID: id), on: transaction.connection, logger: transaction.logger)
                report.tenantKeys += 1
            }
            let versions = try await PlatformKeyRepository.auditChainVersions(on: transaction.connection, logger: transaction.logger)
            for version in versions.keys.sorted() {
                let name = PlatformKeyRepository.auditChain(version: version)
                let rewrapped = try await PlatformKeyRepository.rewrap(name, on: transaction.connection, logger: transaction.logger) {
                    wrapped in try new.wrapPlatformKey(try old.unwrapPlatformKey(wrapped, name: name), name: name)
                }
                if rewrapped { report.platformKeys += 1 }
            }
            try await audit.record(
                AuditEvent(
                    tenantID: AuditEvent.platform, actor: actor, action: "master_key.rotate",
                    detail: [
                        "from": .string(report.from), "to": .string(report.to),
                        "tenantKeys": .number(Double(report.tenantKeys)), "platformKeys": .number(Double(report.platformKeys)),
                    ]),
                in: transaction)
            return report
        }
    }
}

/// Replaces the audit chain's key with a new random one (a new version): events from now on are
/// hashed with it, events before keep verifying with the version they name. For a key that may
/// have leaked, or one a database made before keys were random (version 1 of such a database is
/// derived from its first master key). Nodes hold the keys in memory: stop them first.
public struct AuditKeyRotation: Sendable {
    let admin: PostgresPool
    let masterKey: MasterKey

    public init(admin: PostgresPool, masterKey: MasterKey) {
        self.admin = admin
        self.masterKey = masterKey
    }

    /// The new key's version.
    public func rotate(force: Bool = false, by actor: String) async throws -> Int {
        if !force {
            let connections = try await MasterKeyRotation(admin: admin).runningNodeConnections()
            guard connections == 0 else { throw MasterKeyRotation.Refusal.nodesRunning(connections) }
        }
        let audit = AuditTrail(masterKey: masterKey)
        return try await admin.withTenant(AuditEvent.platform) { transaction in
            let keyring = try await audit.keyring(on: transaction.connection, logger: transaction.logger)
            let version = (keyring.chains.keys.max() ?? 0) + 1
            let name = PlatformKeyRepository.auditChain(version: version)
            _ = try await PlatformKeyRepository.insertIfAbsent(
                name, wrapped: try masterKey.wrapPlatformKey(SymmetricKey(size: .bits256), name: name),
                on: transaction.connection, logger: transaction.logger)
            audit.reload()
            // The rotation is the new key's first event.
            try await audit.record(
                AuditEvent(
                    tenantID: AuditEvent.platform, actor: actor, action: "audit_key.rotate",
                    detail: ["version": .number(Double(version))]),
                in: transaction)
            return version
        }
    }
}
