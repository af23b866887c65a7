// A new key for one tenant, for a suspected compromise: person keys re-wrapped, templates
// re-rotated from the sealed ones, in one transaction.

import Foundation
import Logging
import PostgresNIO
import Storage
import TemplateProtection
import Tenancy
import WireFormats

/// Replaces a tenant's key. Its person keys (which seal the templates) are re-wrapped under the
/// new key; its searchable templates are opened from the sealed ones and rotated anew, so the
/// stored rotation of the old key is worth nothing; `key_version` counts up, and every node
/// drops what it held of the tenant (its key, its shard) when the change notice arrives.
///
/// Runs as the schema owner (it writes the tenant's key, which only operators may, and its
/// persons and faces, which operators may not touch), within the tenant's row-level security.
public struct TenantRekey: Sendable {
    let owner: PostgresPool
    let masterKey: MasterKey
    let models: ModelCatalog
    let audit: AuditTrail
    let notices: ChangeNotices

    public init(owner: PostgresPool, masterKey: MasterKey, models: ModelCatalog) {
        self.owner = owner
        self.masterKey = masterKey
        self.models = models
        self.audit = AuditTrail(masterKey: masterKey)
        self.notices = ChangeNotices(tags: masterKey.noticeTags)
    }

    public struct Report: Sendable, Equatable {
        public var persons: Int
        public var templates: Int
        public var keyVersion: Int
    }

    public func rekey(_ tenantID: UUID, by actor: String) async throws -> Report {
        try await owner.withTenant(tenantID) { transaction in
            guard let tenant = try await TenantRepository.find(tenantID, lock: true, on: transaction.connection, logger: transaction.logger),
                  let wrapped = try await TenantRepository.wrappedKey(of: tenantID, on: transaction.connection, logger: transaction.logger)
            else { throw TenancyError.tenantNotFound }
            let old = try masterKey.unwrapTenantKey(wrapped.key, tenantID: tenantID)
            let new = TenantKey.generate()
            let dimension = models.model(tenant.model)?.dimension ?? 512

            // Person keys: the same keys, wrapped by the new tenant key.
            let persons = try await FaceRepository.personKeys(in: transaction)
            var personKeys: [String: PersonKey] = [:]
            var rewrapped: [(person: String, key: Data)] = []
            for (person, key) in persons {
                let personKey = try old.unwrapPersonKey(key, tenantID: tenantID, personID: person)
                personKeys[person] = personKey
                rewrapped.append((person, try new.wrap(personKey, tenantID: tenantID, personID: person)))
            }
            try await FaceRepository.replacePersonKeys(rewrapped, in: transaction)

            // Searchable templates: rotated anew from the sealed ones (never from the old rotation).
            var templates: [(face: UUID, template: [Float])] = []
            if tenant.settings.searchableTemplates {
                let rotation = new.rotation(dimension: dimension)
                for face in try await FaceRepository.allFaces(in: transaction) {
                    guard let personKey = personKeys[face.personID] else { continue }
                    let template = try personKey.open(face.sealed, tenantID: tenantID, faceID: face.id, model: tenant.model)
                    guard template.count == dimension else { continue }
                    templates.append((face.id, rotation.apply(template)))
                }
                try await FaceRepository.storeTemplates(templates, onlyMissing: false, in: transaction)
            }
            let version = try await TenantRepository.replaceKey(
                of: tenantID, with: try masterKey.wrap(new, tenantID: tenantID), on: transaction.connection,
                logger: transaction.logger)
            try await audit.record(
                AuditEvent(
                    tenantID: tenantID, actor: actor, action: "tenant.rekey", target: tenantID.uuidString.lowercased(),
                    detail: [
                        "keyVersion": .number(Double(version)), "persons": .number(Double(persons.count)),
                        "templates": .number(Double(templates.count)),
                    ]),
                in: transaction)
            try await notices.announce(.tenant, in: transaction)
            return Report(persons: persons.count, templates: templates.count, keyVersion: version)
        }
    }
}
