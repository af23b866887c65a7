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
        /// Other persons the face matched at or above the threshold (`duplicateCheck: warn`);
        /// nil when the tenant does not check.
        public var possibleDuplicates: PossibleDuplicates?
    }

    public struct Verification: Sendable, Equatable {
        public var match: Bool
        public var score: Float
        public var threshold: Threshold
        public var faceID: UUID
    }

    public struct Comparison: Sendable, Equatable {
        public var match: Bool
        public var score: Float
        public var threshold: Threshold
    }

    let app: PostgresPool
    let keys: TenantKeys
    let shards: ShardCache
    let loader: ShardLoader
    let notices: ChangeNotices
    let models: ModelCatalog
    let usage: UsageMeter
    let audit: AuditTrail
    let metrics: FaceMetrics
    let logger: Logger
    /// Each tenant's gallery scored against itself, for its calibration.
    public let calibrations: GalleryCalibrations
    /// Every scan of a shard takes its turn here: a core each, tenants in turn.
    public let scheduler: ScanScheduler

    /// Where a search was answered: the tenant's shard, or pgvector while the shard loads.
    public enum Source: String, Sendable { case memory, database }

    public init(
        app: PostgresPool, masterKey: MasterKey, notices: ChangeNotices, models: ModelCatalog, usage: UsageMeter,
        audit: AuditTrail, memoryBudget: Int = 0, metrics: FaceMetrics = FaceMetrics(), background: BackgroundWork? = nil,
        calibrations: GalleryCalibrations = GalleryCalibrations(), scheduler: ScanScheduler = ScanScheduler(), logger: Logger
    ) {
        self.calibrations = calibrations
        self.scheduler = scheduler
        let background = background ?? BackgroundWork(logger: logger)
        let keys = TenantKeys(app: app, masterKey: masterKey, models: models)
        let shards = ShardCache(memoryBudget: memoryBudget, background: background, logger: logger)
        self.app = app
        self.keys = keys
        self.shards = shards
        self.loader = ShardLoader(app: app, keys: keys, shards: shards, notices: notices, background: background, logger: logger)
        self.notices = notices
        self.models = models
        self.usage = usage
        self.audit = audit
        self.metrics = metrics
        self.logger = logger
    }

    /// Sets the gauges of the shards in memory (faces and bytes per tenant), for a scrape.
    public func sampleMetrics() async {
        metrics.sampleShards(await shards.allFeeds().map { ($0.label, $0.shard.count, $0.shard.memoryBytes) })
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
    /// and counts it against both limits inside one transaction. With `idempotency`, a request
    /// sent again with its key gets the first answer and enrolls nothing.
    public func enroll(
        person personID: String, embedding: [Float], context: TenantContext, idempotency: Idempotency<Enrolled>? = nil
    ) async throws -> Answered<Enrolled> {
        let tenant = context.tenant
        if let answer = try await storedAnswer(idempotency, tenant: tenant.id) { return .replayed(answer) }
        let template = try probe(embedding, tenant: tenant)
        let duplicates = try await possibleDuplicates(of: template, person: personID, context: context)
        if tenant.settings.duplicateCheck == .refuse, let duplicates, duplicates.count > 0 {
            throw FaceError.possibleDuplicate(duplicates)
        }
        do {
            return try await enroll(person: personID, template: template, duplicates: duplicates, tenant: tenant, idempotency: idempotency)
        } catch is KeyChanged {
            // Re-keyed while this node held the old key: once more, with the key now in force.
            keys.forget(context.tenantID)
            return try await enroll(person: personID, template: template, duplicates: duplicates, tenant: tenant, idempotency: idempotency)
        }
    }

    /// The tenant's key changed under an enroll: it rolled back, to be tried again.
    struct KeyChanged: Error {}

    /// Enrolls a template already checked and of unit length.
    func enroll(
        person personID: String, template: [Float], duplicates: PossibleDuplicates? = nil, tenant: Tenant,
        idempotency: Idempotency<Enrolled>? = nil
    ) async throws -> Answered<Enrolled> {
        let secrets = try await keys.secrets(tenant)
        let tenantKey = secrets.key
        let rotated = secrets.rotation.apply(template)
        let faceID = UUID()
        let outcome: Answered<(Enrolled, FaceRepository.LoggedChange)>
        do {
            outcome = try await app.withTenant(tenant.id) { transaction in
                if let answer = try await Self.claim(idempotency, in: transaction) { return .replayed(answer) }
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
                let enrolled = Enrolled(faceID: faceID, personID: personID, faceCount: reserved.faceCount, possibleDuplicates: duplicates)
                try await Self.remember(enrolled, idempotency, in: transaction)
                return .fresh((enrolled, change))
            }
        } catch FaceRepository.Refusal.maxFacesPerPerson(let limit) {
            throw FaceError.maxFacesPerPerson(limit)
        } catch FaceRepository.Refusal.faceQuotaExceeded(let limit) {
            throw FaceError.faceQuotaExceeded(limit)
        }
        switch outcome {
        case .replayed(let answer):
            return .replayed(answer)
        case .fresh(let (enrolled, change)):
            // Committed: now the shard, if it is in memory or on its way there.
            await applyOwn(change, template: rotated, tenant: tenant.id)
            usage.count(UsageCounts(enrolls: 1), tenant: tenant.id)
            return .fresh(enrolled)
        }
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
    func record(_ change: FaceRepository.LoggedChange, in transaction: TenantTransaction) async throws {
        try await FaceRepository.log(change, in: transaction)
        try await notices.announce(.faces, in: transaction)
    }

    // MARK: Reading

    public func person(_ personID: String, context: TenantContext) async throws -> (Person, [EnrolledFace]) {
        guard let (person, faces) = try await app.withTenant(context.tenantID, { try await FaceRepository.findPerson(personID, in: $0) })
        else { throw FaceError.personNotFound }
        return (Person(person), faces.map { EnrolledFace(id: $0.id, createdAt: $0.createdAt) })
    }

    public func persons(after cursor: String?, limit: Int, context: TenantContext) async throws -> [Person] {
        try await app.withTenant(context.tenantID) { try await FaceRepository.persons(after: cursor, limit: limit, in: $0) }.map(Person.init)
    }

    /// 1:1: the person's best face against the probe.
    public func verify(person personID: String, embedding: [Float], context: TenantContext) async throws -> Verification {
        let tenant = context.tenant
        let probe = try probe(embedding, tenant: tenant)
        usage.count(UsageCounts(verifies: 1), tenant: tenant.id)
        let threshold = verifyThreshold(tenant)
        if let rotation = try await loader.coldRotation(tenant) {
            guard let best = try await app.withTenant(tenant.id, {
                try await FaceRepository.bestFace(of: personID, rotatedProbe: rotation.apply(probe), in: $0)
            }) else { throw FaceError.personNotFound }
            usage.decisions.count(.verify, score: best.score, tenant: tenant.id)
            return Verification(match: best.score >= threshold.value, score: Float(best.score), threshold: threshold, faceID: best.face)
        }
        let (shard, rotation) = try await shard(for: tenant)
        guard let best = try shard.verify(rotation.apply(probe), person: personID) else { throw FaceError.personNotFound }
        usage.decisions.count(.verify, score: Double(best.score), tenant: tenant.id)
        return Verification(match: Double(best.score) >= threshold.value, score: best.score, threshold: threshold, faceID: best.faceID)
    }

    /// Two probes against each other; nothing is stored or searched.
    public func compare(_ a: [Float], _ b: [Float], context: TenantContext) throws(FaceError) -> Comparison {
        let tenant = context.tenant
        let (x, y) = (try probe(a, tenant: tenant), try probe(b, tenant: tenant))
        var score: Double = 0
        for index in x.indices { score += Double(x[index]) * Double(y[index]) }
        let threshold = verifyThreshold(tenant)
        usage.count(UsageCounts(verifies: 1), tenant: tenant.id)
        return Comparison(match: score >= threshold.value, score: Float(score), threshold: threshold)
    }

    // MARK: Shards

    func applyOwn(_ change: FaceRepository.LoggedChange, template: [Float]?, tenant: UUID) async {
        await loader.applyOwn(change, template: template, tenant: tenant)
    }

    func shard(for tenant: Tenant) async throws -> (Shard, TemplateRotation) {
        try await loader.shard(for: tenant)
    }
}

extension FaceRegistry: ChangeSubscriber {
    public func tenantChanged(_ tenant: UUID?, kind: ChangeNotices.Kind) async {
        await loader.tenantChanged(tenant, kind: kind)
    }

    public func resubscribed() async {
        await loader.resubscribed()
    }
}
