// Enroll, verify, search, compare and delete: the database is the source of truth, the tenant's
// in-memory shard answers searches. A write commits, then reaches the shard, then is answered.

import FaceIndex
import Foundation
import Logging
import Storage
import Synchronization
import TemplateProtection
import Tenancy
import WireFormats

public final class FaceRegistry: Sendable {
    public struct Enrolled: Sendable, Equatable {
        public var faceID: UUID
        public var personID: String
        public var faceCount: Int
    }

    public struct Verification: Sendable, Equatable {
        public var match: Bool
        public var score: Float
        public var threshold: Double
        public var faceID: UUID
    }

    public struct Comparison: Sendable, Equatable {
        public var match: Bool
        public var score: Float
        public var threshold: Double
    }

    let app: PostgresPool
    let keys: TenantKeys
    let shards: ShardCache
    let notices: ChangeNotices
    let models: ModelCatalog
    let usage: UsageMeter
    let audit: AuditTrail
    let logger: Logger

    /// Where a search was answered: the tenant's shard, or pgvector while the shard loads.
    public enum Source: String, Sendable { case memory, database }

    public init(
        app: PostgresPool, masterKey: MasterKey, notices: ChangeNotices, models: ModelCatalog, usage: UsageMeter,
        audit: AuditTrail, memoryBudget: Int = 0, logger: Logger
    ) {
        self.app = app
        self.keys = TenantKeys(app: app, masterKey: masterKey, models: models)
        self.shards = ShardCache(memoryBudget: memoryBudget, logger: logger)
        self.notices = notices
        self.models = models
        self.usage = usage
        self.audit = audit
        self.logger = logger
    }

    /// The threshold a match needs for this tenant: its own, or its model's default.
    public func threshold(_ tenant: Tenant) -> Double {
        tenant.settings.matchThreshold ?? models.model(tenant.model)?.defaultMatchThreshold ?? 0.5
    }

    /// The model's dimension for this tenant.
    public func dimension(_ tenant: Tenant) -> Int { keys.dimension(tenant) }

    /// A probe checked against the tenant's model and scaled to unit length.
    public func probe(_ values: [Float], tenant: Tenant) throws(FaceError) -> [Float] {
        do {
            return try Embedding.normalized(values, dimension: dimension(tenant))
        } catch .dimensionMismatch(let expected, let actual) {
            throw .dimensionMismatch(expected: expected, actual: actual)
        } catch .nonFinite {
            throw .invalidEmbedding("contains NaN or an infinity")
        } catch {
            throw .invalidEmbedding("is a zero vector: it has no direction")
        }
    }

    // MARK: Writing

    /// Seals the template under the person's key, keeps its tenant-keyed rotation for search,
    /// and counts it against both limits inside one transaction.
    public func enroll(person personID: String, embedding: [Float], context: TenantContext) async throws -> Enrolled {
        do {
            return try await enroll(person: personID, embedding: embedding, tenant: context.tenant)
        } catch is KeyChanged {
            // Re-keyed while this node held the old key: once more, with the key now in force.
            keys.forget(context.tenantID)
            return try await enroll(person: personID, embedding: embedding, tenant: context.tenant)
        }
    }

    /// The tenant's key changed under an enroll: it rolled back, to be tried again.
    struct KeyChanged: Error {}

    func enroll(person personID: String, embedding: [Float], tenant: Tenant) async throws -> Enrolled {
        let template = try probe(embedding, tenant: tenant)
        let secrets = try await keys.secrets(tenant)
        let tenantKey = secrets.key
        let rotated = secrets.rotation.apply(template)
        let faceID = UUID()
        let (count, change): (Int, FaceRepository.LoggedChange)
        do {
            (count, change) = try await app.withTenant(tenant.id) { transaction in
                let wrapped = try await FaceRepository.person(
                    personID, creatingWith: try tenantKey.wrap(PersonKey.generate(), tenantID: tenant.id, personID: personID),
                    in: transaction)
                // A person wrapped under a key this node has not heard of yet does not open.
                guard let personKey = try? tenantKey.unwrapPersonKey(wrapped, tenantID: tenant.id, personID: personID) else {
                    throw KeyChanged()
                }
                try await FaceRepository.insertFace(
                    id: faceID, person: personID,
                    sealed: try personKey.seal(template, tenantID: tenant.id, faceID: faceID, model: tenant.model),
                    template: tenant.settings.searchableTemplates ? rotated : nil, in: transaction)
                // Last, so the tenant's row, which every enroll of the tenant updates, stays
                // locked for as short a time as can be; over a limit, the insert rolls back.
                let reserved = try await FaceRepository.reserveFace(
                    person: personID, maxFacesPerPerson: tenant.settings.maxFacesPerPerson, maxFaces: tenant.quotas.maxFaces,
                    in: transaction)
                // Sealed and wrapped under a key since replaced: roll back and do it again.
                guard reserved.keyVersion == secrets.version else { throw KeyChanged() }
                if tenant.settings.searchableTemplates, !reserved.searchableTemplates {
                    try await FaceRepository.dropTemplate(of: faceID, in: transaction)
                }
                let change = FaceRepository.LoggedChange(seq: reserved.change, operation: .add, face: faceID, person: personID)
                try await record(change, in: transaction)
                return (reserved.faceCount, change)
            }
        } catch FaceRepository.Refusal.maxFacesPerPerson(let limit) {
            throw FaceError.maxFacesPerPerson(limit)
        } catch FaceRepository.Refusal.faceQuotaExceeded(let limit) {
            throw FaceError.faceQuotaExceeded(limit)
        }
        // Committed: now the shard, if it is in memory or on its way there.
        await applyOwn(change, template: rotated, tenant: tenant.id)
        usage.count(UsageCounts(enrolls: 1), tenant: tenant.id)
        return Enrolled(faceID: faceID, personID: personID, faceCount: count)
    }

    /// Deletes one of the tenant's faces. Another tenant's face id is the same 404 as a missing
    /// one, in the same time (the check runs for both); the attempt is recorded in the platform's
    /// trail, which operators read and tenants do not (the caller's own trail would tell it that
    /// the id exists somewhere).
    public func deleteFace(_ faceID: UUID, context: TenantContext) async throws {
        let tenantID = context.tenantID
        let outcome = try await app.withTenant(tenantID) { transaction -> (change: FaceRepository.LoggedChange?, foreign: Bool) in
            guard let deleted = try await FaceRepository.deleteFace(faceID, in: transaction) else {
                return (nil, try await FaceRepository.heldByAnotherTenant(faceID, in: transaction))
            }
            let change = FaceRepository.LoggedChange(seq: deleted.change, operation: .remove, face: faceID, person: deleted.person)
            try await record(change, in: transaction)
            return (change, false)
        }
        guard let change = outcome.change else {
            if outcome.foreign { recordForeignFace(faceID, context: context) }
            throw FaceError.faceNotFound
        }
        await applyOwn(change, template: nil, tenant: tenantID)
    }

    /// Queues the probe's record (written by the trail's service), so that answering it takes no
    /// longer than answering for a face that exists nowhere.
    func recordForeignFace(_ faceID: UUID, context: TenantContext) {
        let event = AuditEvent(
            tenantID: AuditEvent.platform, actor: context.actor, action: "access.foreign_face", outcome: .denied,
            detail: ["tenant": .string(context.tenantID.uuidString.lowercased()), "faceId": .string(faceID.uuidString.lowercased())])
        audit.recordRefusal(event)
    }

    /// Deletes the person, its faces and its wrapped key: its sealed templates can never be
    /// opened again.
    public func deletePerson(_ personID: String, context: TenantContext) async throws {
        let tenantID = context.tenantID
        let change = try await app.withTenant(tenantID) { transaction -> FaceRepository.LoggedChange? in
            guard let number = try await FaceRepository.deletePerson(personID, in: transaction) else { return nil }
            let change = FaceRepository.LoggedChange(seq: number, operation: .removePerson, face: nil, person: personID)
            try await record(change, in: transaction)
            return change
        }
        guard let change else { throw FaceError.personNotFound }
        await applyOwn(change, template: nil, tenant: tenantID)
    }

    /// Logs a change and announces it, in the transaction that makes it.
    private func record(_ change: FaceRepository.LoggedChange, in transaction: TenantTransaction) async throws {
        try await FaceRepository.log(change, in: transaction)
        try await notices.announce(.faces, in: transaction)
    }

    // MARK: Reading

    public func person(_ personID: String, context: TenantContext) async throws -> (FaceRepository.PersonRecord, [FaceRepository.FaceRecord]) {
        guard let found = try await app.withTenant(context.tenantID, { try await FaceRepository.findPerson(personID, in: $0) })
        else { throw FaceError.personNotFound }
        return found
    }

    public func persons(after cursor: String?, limit: Int, context: TenantContext) async throws -> [FaceRepository.PersonRecord] {
        try await app.withTenant(context.tenantID) { try await FaceRepository.persons(after: cursor, limit: limit, in: $0) }
    }

    /// 1:1: the person's best face against the probe.
    public func verify(person personID: String, embedding: [Float], context: TenantContext) async throws -> Verification {
        let tenant = context.tenant
        let probe = try probe(embedding, tenant: tenant)
        usage.count(UsageCounts(verifies: 1), tenant: tenant.id)
        let threshold = threshold(tenant)
        if let rotation = try await coldRotation(tenant) {
            guard let best = try await app.withTenant(tenant.id, {
                try await FaceRepository.bestFace(of: personID, rotatedProbe: rotation.apply(probe), in: $0)
            }) else { throw FaceError.personNotFound }
            return Verification(match: best.score >= threshold, score: Float(best.score), threshold: threshold, faceID: best.face)
        }
        let (shard, rotation) = try await shard(for: tenant)
        guard let best = try shard.verify(rotation.apply(probe), person: personID) else { throw FaceError.personNotFound }
        return Verification(match: Double(best.score) >= threshold, score: best.score, threshold: threshold, faceID: best.faceID)
    }

    /// 1:N: the best face of each of the `limit` most similar persons at or above the threshold
    /// in force (the tenant's, or a stricter `minScore`).
    public func search(
        embedding: [Float], limit: Int, minScore: Double?, context: TenantContext
    ) async throws -> (matches: [PersonMatch], threshold: Double, source: Source) {
        let tenant = context.tenant
        let probe = try probe(embedding, tenant: tenant)
        let threshold = max(threshold(tenant), minScore ?? -1)
        usage.count(UsageCounts(searches: 1), tenant: tenant.id)
        if let rotation = try await coldRotation(tenant) {
            let found = try await app.withTenant(tenant.id) {
                try await FaceRepository.searchPersons(
                    rotatedProbe: rotation.apply(probe), minScore: threshold, limit: limit, in: $0)
            }
            return (found.map { PersonMatch(personID: $0.person, faceID: $0.face, score: Float($0.score)) }, threshold, .database)
        }
        let (shard, rotation) = try await shard(for: tenant)
        let matches = try shard.searchPersons(rotation.apply(probe), k: limit, minScore: Float(threshold))
        return (matches, threshold, .memory)
    }

    /// When the tenant's shard is not in memory (first use, or dropped for the memory budget)
    /// and its templates are searchable: starts loading it and returns the rotation, so this
    /// request is answered by pgvector meanwhile. Nil when the shard is there (or must be
    /// waited for: without searchable templates the database cannot compare).
    func coldRotation(_ tenant: Tenant) async throws -> TemplateRotation? {
        guard shards.memoryBudget > 0, !shards.isLoaded(tenant.id), tenant.settings.searchableTemplates else { return nil }
        // Faces enrolled while the tenant kept no searchable templates have none yet (the shard's
        // load writes them): pgvector would miss them, so the search waits for the shard.
        guard try await !app.withTenant(tenant.id, { try await FaceRepository.hasFacesWithoutTemplate(in: $0) }) else {
            return nil
        }
        let rotation = try await keys.secrets(tenant).rotation
        Task { _ = try? await self.shard(for: tenant) }
        return rotation
    }

    /// Two probes against each other; nothing is stored or searched.
    public func compare(_ a: [Float], _ b: [Float], context: TenantContext) throws(FaceError) -> Comparison {
        let tenant = context.tenant
        let (x, y) = (try probe(a, tenant: tenant), try probe(b, tenant: tenant))
        var score: Double = 0
        for index in x.indices { score += Double(x[index]) * Double(y[index]) }
        let threshold = threshold(tenant)
        usage.count(UsageCounts(verifies: 1), tenant: tenant.id)
        return Comparison(match: score >= threshold, score: Float(score), threshold: threshold)
    }

    // MARK: Shards

    /// A change this node committed reaches the tenant's shard before the request is answered,
    /// if the shard is in memory or loading (else the next load reads it).
    func applyOwn(_ change: FaceRepository.LoggedChange, template: [Float]?, tenant: UUID) async {
        await shards.feed(for: tenant)?.own(change, template: template)
    }

    /// The tenant's shard and its rotation, loaded from the database on first use. A shard made
    /// under an older key version (the key was replaced) is loaded again.
    func shard(for tenant: Tenant) async throws -> (Shard, TemplateRotation) {
        let secrets = try await keys.secrets(tenant)
        let shard = try await shards.shard(for: tenant.id, keyVersion: secrets.version) {
            try await self.load(tenant, secrets: secrets)
        }
        return (shard, secrets.rotation)
    }

    func load(_ tenant: Tenant, secrets: TenantSecrets) async throws -> ShardFeed {
        let started = ContinuousClock.now
        notices.remember(tenant.id)
        // The counter and the faces at one moment: the feed goes on from exactly there.
        let (number, stored) = try await app.withTenant(tenant.id, snapshot: true) { transaction in
            (try await FaceRepository.changeNumber(in: transaction), try await FaceRepository.allFaces(in: transaction))
        }
        let shard = try Shard(dimension: secrets.rotation.outputDimension)
        let faces = try rotated(stored, tenant: tenant, secrets: secrets)
        try shard.add(contentsOf: faces.map { Shard.Face(id: $0.key, person: $0.value.person, embedding: $0.value.template) })
        // Faces enrolled while searchable templates were off, now that they are on: write their
        // rotated templates, so pgvector can answer for them too while a shard is cold.
        let missing = stored.filter { $0.template == nil }.compactMap { face in faces[face.id].map { (face.id, $0.template) } }
        if tenant.settings.searchableTemplates, !missing.isEmpty {
            try await app.withTenant(tenant.id) { try await FaceRepository.storeTemplates(missing, onlyMissing: true, in: $0) }
        }
        let elapsed = ContinuousClock.now - started
        logger.info(
            "shard loaded",
            metadata: [
                "tenant": "\(tenant.slug)", "faces": "\(faces.count)", "ms": "\(Int((elapsed / .milliseconds(1)).rounded()))",
            ])
        return ShardFeed(
            tenant: tenant.id, shard: shard, keyVersion: secrets.version, applied: number,
            source: changeSource(tenant, secrets: secrets), logger: logger
        ) { [shards] feed, why in
            Task { await shards.drop(tenant.id, feed: feed, why: why) }
        }
    }

    /// Where the tenant's feed reads its log and the templates of added faces.
    func changeSource(_ tenant: Tenant, secrets: TenantSecrets) -> ChangeSource {
        ChangeSource(
            changes: { [app] after, limit in
                try await app.withTenant(tenant.id, snapshot: true) { transaction in
                    (try await FaceRepository.changeNumber(in: transaction),
                     try await FaceRepository.changes(after: after, limit: limit, in: transaction))
                }
            },
            templates: { [app] faces in
                let stored = try await app.withTenant(tenant.id) { try await FaceRepository.storedFaces(faces, in: $0) }
                return try self.rotated(stored, tenant: tenant, secrets: secrets).mapValues(\.template)
            })
    }

    /// Stored faces as the shard holds them: the rotated template, kept or opened from the sealed
    /// one. A template of another length than the model's (a forged or foreign row) is skipped.
    func rotated(
        _ stored: [FaceRepository.StoredFace], tenant: Tenant, secrets: TenantSecrets
    ) throws -> [UUID: (person: String, template: [Float])] {
        var faces: [UUID: (person: String, template: [Float])] = [:]
        var personKeys: [String: PersonKey] = [:]
        for face in stored {
            if let template = face.template {
                guard template.count == secrets.rotation.outputDimension else { continue }
                faces[face.id] = (face.personID, template)
                continue
            }
            // The tenant keeps no searchable templates: open the sealed one. One that does not
            // open (a row wrapped under a key since replaced) is left out and said so, never the
            // reason the whole tenant cannot load.
            guard let personKey = personKeys[face.personID]
                ?? (try? secrets.key.unwrapPersonKey(face.wrappedPersonKey, tenantID: tenant.id, personID: face.personID)),
                let template = try? personKey.open(face.sealed, tenantID: tenant.id, faceID: face.id, model: tenant.model),
                template.count == secrets.rotation.dimension
            else {
                logger.error("a stored face does not open under its tenant's key", metadata: ["tenant": "\(tenant.slug)"])
                continue
            }
            personKeys[face.personID] = personKey
            faces[face.id] = (face.personID, secrets.rotation.apply(template))
        }
        return faces
    }
}

extension FaceRegistry: ChangeSubscriber {
    public func tenantChanged(_ tenant: UUID?, kind: ChangeNotices.Kind) async {
        guard let tenant else { return }
        switch kind {
        case .faces:
            await shards.loadedFeed(for: tenant)?.wake()
        case .tenant:
            // Deleted, purged or re-keyed: what this node holds of it may be gone. A key of a
            // newer version is read again on next use anyway; a tenant that is gone is dropped.
            guard shards.isLoaded(tenant) || keys.holds(tenant) else { return }
            let current = try? await app.withTenant(tenant) {
                try await TenantRepository.find(tenant, on: $0.connection, logger: $0.logger)
            }
            if let current, current.status != .deleted { return }
            keys.forget(tenant)
            await shards.drop(tenant, why: "the tenant is deleted")
        }
    }

    public func resubscribed() async {
        for feed in await shards.allFeeds() { await feed.wake() }
    }
}
