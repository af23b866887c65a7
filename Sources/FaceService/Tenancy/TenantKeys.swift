// Each tenant's unwrapped key and template rotation, derived once per key version: the rotation's
// HKDF and sign vectors would otherwise be recomputed on every search.

import Foundation
import Storage
import Synchronization
import Tenancy
import TemplateProtection

/// A tenant's key as this node holds it, and the rotation it makes for the tenant's model.
struct TenantSecrets: Sendable {
    let key: TenantKey
    let rotation: TemplateRotation
    /// `tenants.key_version` when it was read: a higher version means re-wrapped or replaced.
    let version: Int
}

final class TenantKeys: Sendable {
    private let app: PostgresPool
    private let masterKey: MasterKey
    private let models: ModelCatalog
    private let held = Mutex<[UUID: TenantSecrets]>([:])

    init(app: PostgresPool, masterKey: MasterKey, models: ModelCatalog) {
        self.app = app
        self.masterKey = masterKey
        self.models = models
    }

    /// The model's dimension for this tenant.
    func dimension(_ tenant: Tenant) -> Int {
        models.model(tenant.model)?.dimension ?? 512
    }

    /// The tenant's secrets, read from the database when not held or held at an older version.
    func secrets(_ tenant: Tenant) async throws -> TenantSecrets {
        if let secrets = held.withLock({ $0[tenant.id] }), secrets.version >= tenant.keyVersion { return secrets }
        guard let wrapped = try await app.withTenant(tenant.id, {
            try await TenantRepository.wrappedKey(of: tenant.id, on: $0.connection, logger: $0.logger)
        }) else { throw FaceError.tenantKeyUnavailable }
        let key: TenantKey
        do { key = try masterKey.unwrapTenantKey(wrapped.key, tenantID: tenant.id) } catch { throw FaceError.tenantKeyUnavailable }
        let secrets = TenantSecrets(key: key, rotation: key.rotation(dimension: dimension(tenant)), version: wrapped.version)
        held.withLock { $0[tenant.id] = secrets }
        return secrets
    }

    /// Forgets a tenant's key (deleted, purged, re-keyed).
    func forget(_ tenant: UUID) {
        _ = held.withLock { $0.removeValue(forKey: tenant) }
    }

    func holds(_ tenant: UUID) -> Bool { held.withLock { $0[tenant] != nil } }

    var count: Int { held.withLock { $0.count } }
}
