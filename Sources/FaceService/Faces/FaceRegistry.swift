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
    let index: FaceIndex
    let masterKey: MasterKey
    let models: ModelCatalog
    let usage: UsageMeter
    let audit: AuditTrail
    let logger: Logger
    let loads = ShardLoads()
    /// Each tenant's unwrapped key and its template rotation, derived once: the rotation's HKDF
    /// and sign vectors would otherwise be recomputed on every search.
    private let tenantSecrets = Mutex<[UUID: TenantSecrets]>([:])

    struct TenantSecrets {
        let key: TenantKey
        let rotation: TemplateRotation
    }
    /// Per loaded tenant: the last announced change applied, and what was removed since the
    /// load (so a change arriving late, from this node or another, cannot bring a face back).
    private let syncs = Mutex<[UUID: Sync]>([:])

    struct Sync {
        var tenant: Tenant
        var lastChange: Int64
        var removedFaces: Set<UUID> = []
        var removedPersons: [String: Int64] = [:]
    }

    /// Where a search was answered: the tenant's shard, or pgvector while the shard loads.
    public enum Source: String, Sendable { case memory, database }

    let memoryBudget: Int
    private let lastUsed = Mutex<[UUID: ContinuousClock.Instant]>([:])

    public init(
        app: PostgresPool, index: FaceIndex, masterKey: MasterKey, models: ModelCatalog, usage: UsageMeter,
        audit: AuditTrail, memoryBudget: Int = 0, logger: Logger
    ) {
        self.audit = audit
        self.memoryBudget = memoryBudget
        self.app = app
        self.index = index
        self.masterKey = masterKey
        self.models = models
        self.usage = usage
        self.logger = logger
    }

    /// The threshold a match needs for this tenant: its own, or its model's default.
    public func threshold(_ tenant: Tenant) -> Double {
        tenant.settings.matchThreshold ?? models.model(tenant.model)?.defaultMatchThreshold ?? 0.5
    }

    /// The model's dimension for this tenant.
    public func dimension(_ tenant: Tenant) -> Int {
        models.model(tenant.model)?.dimension ?? 512
    }

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
        let tenant = context.tenant
        let template = try probe(embedding, tenant: tenant)
        let secrets = try await secrets(tenant)
        let tenantKey = secrets.key
        let rotated = secrets.rotation.apply(template)
        let faceID = UUID()
        let count: Int
        var change: FaceChange?
        do {
            count = try await app.withTenant(tenant.id) { transaction in
                let wrapped = try await FaceRepository.person(
                    personID, creatingWith: try tenantKey.wrap(PersonKey.generate(), tenantID: tenant.id, personID: personID),
                    in: transaction)
                let personKey = try tenantKey.unwrapPersonKey(wrapped, tenantID: tenant.id, personID: personID)
                try await FaceRepository.insertFace(
                    id: faceID, person: personID,
                    sealed: try personKey.seal(template, tenantID: tenant.id, faceID: faceID, model: tenant.model),
                    template: tenant.settings.searchableTemplates ? rotated : nil, in: transaction)
                // Last, so the tenant's row, which every enroll of the tenant updates, stays
                // locked for as short a time as can be; over a limit, the insert rolls back.
                let reserved = try await FaceRepository.reserveFace(
                    person: personID, maxFacesPerPerson: tenant.settings.maxFacesPerPerson, maxFaces: tenant.quotas.maxFaces,
                    in: transaction)
                change = FaceChange(tenant: tenant.id, number: reserved.change, operation: .add, face: faceID, person: personID)
                try await FaceRepository.announce(change!.payload, in: transaction)
                return reserved.faceCount
            }
        } catch FaceRepository.Refusal.maxFacesPerPerson(let limit) {
            throw FaceError.maxFacesPerPerson(limit)
        } catch FaceRepository.Refusal.faceQuotaExceeded(let limit) {
            throw FaceError.faceQuotaExceeded(limit)
        }
        // Committed: now the shard, if it is in memory or on its way there.
        await apply(change!, embedding: rotated, announced: false)
        usage.count(UsageCounts(enrolls: 1), tenant: tenant.id)
        return Enrolled(faceID: faceID, personID: personID, faceCount: count)
    }

    /// Deletes one of the tenant's faces. Another tenant's face id is the same 404 as a missing
    /// one, in the same time (the check runs for both); the attempt is recorded in the platform's
    /// trail, which operators read and tenants do not (the caller's own trail would tell it that
    /// the id exists somewhere).
    public func deleteFace(_ faceID: UUID, context: TenantContext) async throws {
        let tenantID = context.tenantID
        let outcome = try await app.withTenant(tenantID) { transaction -> (change: FaceChange?, foreign: Bool) in
            guard let deleted = try await FaceRepository.deleteFace(faceID, in: transaction) else {
                return (nil, try await FaceRepository.heldByAnotherTenant(faceID, in: transaction))
            }
            let change = FaceChange(tenant: tenantID, number: deleted.change, operation: .remove, face: faceID, person: deleted.person)
            try await FaceRepository.announce(change.payload, in: transaction)
            return (change, false)
        }
        guard let change = outcome.change else {
            if outcome.foreign { recordForeignFace(faceID, context: context) }
            throw FaceError.faceNotFound
        }
        await apply(change, embedding: nil, announced: false)
    }

    /// Writes the probe's record in the background, so that answering it takes no longer than
    /// answering for a face that exists nowhere.
    func recordForeignFace(_ faceID: UUID, context: TenantContext) {
        let event = AuditEvent(
            tenantID: AuditEvent.platform, actor: context.actor, action: "access.foreign_face", outcome: .denied,
            detail: ["tenant": .string(context.tenantID.uuidString.lowercased()), "faceId": .string(faceID.uuidString.lowercased())])
        Task { [audit, app] in await audit.recordRefusal(event, pool: app) }
    }

    /// Deletes the person, its faces and its wrapped key: its sealed templates can never be
    /// opened again.
    public func deletePerson(_ personID: String, context: TenantContext) async throws {
        let tenantID = context.tenantID
        let change = try await app.withTenant(tenantID) { transaction -> FaceChange? in
            guard let number = try await FaceRepository.deletePerson(personID, in: transaction) else { return nil }
            let change = FaceChange(tenant: tenantID, number: number, operation: .removePerson, face: nil, person: personID)
            try await FaceRepository.announce(change.payload, in: transaction)
            return change
        }
        guard let change else { throw FaceError.personNotFound }
        await apply(change, embedding: nil, announced: false)
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
        guard memoryBudget > 0, index.shard(for: tenant.id) == nil, tenant.settings.searchableTemplates else { return nil }
        let rotation = try await secrets(tenant).rotation
        Task { _ = try? await self.shard(for: tenant) }
        return rotation
    }

    /// Drops the least recently used shards, never `keeping`, until the index fits the budget.
    func enforceBudget(keeping tenant: UUID) {
        guard memoryBudget > 0 else { return }
        while index.memoryBytes > memoryBudget {
            let victim = lastUsed.withLock { used in
                used.filter { $0.key != tenant && index.shard(for: $0.key) != nil }.min { $0.value < $1.value }?.key
            }
            guard let victim else { return }
            lastUsed.withLock { _ = $0.removeValue(forKey: victim) }
            drop(victim, why: "memory budget")
        }
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

    // MARK: Coherence

    /// Applies a committed change to the tenant's shard, if this node holds it. `announced`
    /// changes come from the listener, in commit order: one that skips a number means some were
    /// missed, and the shard is dropped to load afresh. This node's own writes apply at once.
    func apply(_ change: FaceChange, embedding: [Float]?, announced: Bool) async {
        guard let shard = await loads.loadedOrLoading(change.t, in: index) else { return }
        if announced {
            let last = syncs.withLock { $0[change.t]?.lastChange }
            guard let last, change.s > last else { return }
            if change.s > last + 1 {
                drop(change.t, why: "missed changes \(last + 1)…\(change.s - 1)")
                return
            }
        }
        var vector = embedding
        if change.op == .add, vector == nil, let face = change.f {
            vector = try? await rotatedTemplate(face, tenant: change.t)
        }
        syncs.withLock { syncs in
            guard var sync = syncs[change.t] else { return }
            switch change.op {
            case .add:
                if let face = change.f, let vector, !sync.removedFaces.contains(face),
                   (sync.removedPersons[change.p] ?? -1) < change.s
                {
                    try? shard.add(face: face, person: change.p, embedding: vector)
                }
            case .remove:
                if let face = change.f {
                    _ = shard.remove(face: face)
                    sync.removedFaces.insert(face)
                }
            case .removePerson:
                _ = shard.remove(person: change.p)
                sync.removedPersons[change.p] = max(change.s, sync.removedPersons[change.p] ?? -1)
            }
            if announced { sync.lastChange = change.s }
            syncs[change.t] = sync
        }
    }

    /// After the listener (re)subscribes: a tenant whose counter moved past what this node
    /// applied is dropped, to load afresh on its next search.
    func reconcile() async {
        for (tenant, last) in syncs.withLock({ $0.map { ($0.key, $0.value.lastChange) } }) {
            let current = try? await app.withTenant(tenant) { try await FaceRepository.changeNumber(in: $0) }
            if let current, current != last { drop(tenant, why: "counter at \(current), applied \(last)") }
        }
    }

    func drop(_ tenant: UUID, why: String) {
        syncs.withLock { _ = $0.removeValue(forKey: tenant) }
        _ = index.evict(tenant)
        logger.notice("shard dropped to reload", metadata: ["tenant": "\(tenant)", "why": "\(why)"])
    }

    /// A face's rotated template, from the database, or nil when it is gone.
    func rotatedTemplate(_ faceID: UUID, tenant tenantID: UUID) async throws -> [Float]? {
        guard let tenant = syncs.withLock({ $0[tenantID]?.tenant }) else { return nil }
        guard let face = try await app.withTenant(tenantID, { try await FaceRepository.storedFace(faceID, in: $0) }) else {
            return nil
        }
        if let template = face.template { return template }
        let secrets = try await secrets(tenant)
        let personKey = try secrets.key.unwrapPersonKey(face.wrappedPersonKey, tenantID: tenantID, personID: face.personID)
        let template = try personKey.open(face.sealed, tenantID: tenantID, faceID: faceID, model: tenant.model)
        return secrets.rotation.apply(template)
    }

    // MARK: Keys and shards

    func secrets(_ tenant: Tenant) async throws -> TenantSecrets {
        if let secrets = tenantSecrets.withLock({ $0[tenant.id] }) { return secrets }
        guard let wrapped = try await app.withTenant(tenant.id, {
            try await TenantRepository.wrappedKey(of: tenant.id, on: $0.connection, logger: $0.logger)
        }) else { throw FaceError.tenantKeyUnavailable }
        let key: TenantKey
        do { key = try masterKey.unwrapTenantKey(wrapped.key, tenantID: tenant.id) } catch { throw FaceError.tenantKeyUnavailable }
        let secrets = TenantSecrets(key: key, rotation: key.rotation(dimension: dimension(tenant)))
        tenantSecrets.withLock { $0[tenant.id] = secrets }
        return secrets
    }

    /// The tenant's shard, loaded from the database on first use (one load however many ask).
    func shard(for tenant: Tenant) async throws -> (Shard, TemplateRotation) {
        let secrets = try await secrets(tenant)
        let rotation = secrets.rotation
        // Loaded: straight from the index, without a hop through the loads actor, which every
        // search of every tenant would otherwise queue on.
        let shard: Shard
        if let loaded = index.shard(for: tenant.id) {
            shard = loaded
        } else {
            shard = try await loads.shard(tenant.id, in: index) {
                try await self.load(tenant, key: secrets.key, rotation: rotation)
            }
        }
        if memoryBudget > 0 {
            lastUsed.withLock { $0[tenant.id] = .now }
            enforceBudget(keeping: tenant.id)
        }
        return (shard, rotation)
    }

    func load(_ tenant: Tenant, key: TenantKey, rotation: TemplateRotation) async throws -> Shard {
        let started = ContinuousClock.now
        // The counter first, then the faces: changes committed in between are in the faces and
        // are announced again after; applying them twice changes nothing.
        let (number, stored) = try await app.withTenant(tenant.id) { transaction in
            (try await FaceRepository.changeNumber(in: transaction), try await FaceRepository.allFaces(in: transaction))
        }
        let shard = try Shard(dimension: rotation.outputDimension)
        var faces: [Shard.Face] = []
        faces.reserveCapacity(stored.count)
        var personKeys: [String: PersonKey] = [:]
        for face in stored {
            if let template = face.template {
                faces.append(Shard.Face(id: face.id, person: face.personID, embedding: template))
                continue
            }
            // The tenant keeps no searchable templates: open the sealed one.
            let personKey = try personKeys[face.personID]
                ?? key.unwrapPersonKey(face.wrappedPersonKey, tenantID: tenant.id, personID: face.personID)
            personKeys[face.personID] = personKey
            let template = try personKey.open(face.sealed, tenantID: tenant.id, faceID: face.id, model: tenant.model)
            faces.append(Shard.Face(id: face.id, person: face.personID, embedding: rotation.apply(template)))
        }
        try shard.add(contentsOf: faces)
        syncs.withLock { $0[tenant.id] = Sync(tenant: tenant, lastChange: number) }
        let elapsed = ContinuousClock.now - started
        logger.info(
            "shard loaded",
            metadata: [
                "tenant": "\(tenant.slug)", "faces": "\(faces.count)", "ms": "\(Int((elapsed / .milliseconds(1)).rounded()))",
            ])
        return shard
    }
}

/// One load per tenant at a time; writers that arrive during a load wait for it, then apply
/// their change to the loaded shard (see `FaceRegistry.enroll`).
actor ShardLoads {
    private var inFlight: [UUID: Task<Shard, any Error>] = [:]

    func shard(_ tenant: UUID, in index: FaceIndex, load: @Sendable @escaping () async throws -> Shard) async throws -> Shard {
        if let shard = index.shard(for: tenant) { return shard }
        if let task = inFlight[tenant] { return try await task.value }
        let task = Task { try await load() }
        inFlight[tenant] = task
        defer { inFlight[tenant] = nil }
        let shard = try await task.value
        index.install(shard, for: tenant)
        return shard
    }

    /// The shard if it is in memory, or once the load under way ends; nil when neither.
    func loadedOrLoading(_ tenant: UUID, in index: FaceIndex) async -> Shard? {
        if let shard = index.shard(for: tenant) { return shard }
        guard let task = inFlight[tenant] else { return nil }
        return try? await task.value
    }
}
