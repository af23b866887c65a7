// A tenant's shard: loaded from the database on first use (rotated templates, or sealed ones
// opened under the tenant's key), kept in step with the tenant's change log by its feed, and
// dropped when the tenant is deleted or its key replaced.

import FaceIndex
import Foundation
import Logging
import Storage
import Synchronization
import TemplateProtection
import Tenancy

final class ShardLoader: Sendable {
    let app: PostgresPool
    let keys: TenantKeys
    let shards: ShardCache
    let notices: ChangeNotices
    let background: BackgroundWork
    let logger: Logger

    init(app: PostgresPool, keys: TenantKeys, shards: ShardCache, notices: ChangeNotices, background: BackgroundWork, logger: Logger) {
        self.app = app
        self.keys = keys
        self.shards = shards
        self.notices = notices
        self.background = background
        self.logger = logger
    }

    /// A tenant of this many faces or more is read in parts, on as many connections.
    static let facesToSplit = 4_096
    /// Whether a split load is running: one at a time, so loads never hold every connection of
    /// the pool each waiting for a second one.
    private let splitting = Atomic<Bool>(false)

    /// How many parts to read `tenant`'s faces in: two (one a core, on two cores and up) for a
    /// tenant of `facesToSplit` faces or more with searchable templates (the ones read in parts),
    /// when the pool has room for it and no other split load runs; else one. A split taken must
    /// be given back (`splitting`).
    private func splitFor(_ tenant: Tenant, faces: Int) -> Int {
        guard faces >= Self.facesToSplit, tenant.settings.searchableTemplates, ProcessInfo.processInfo.activeProcessorCount >= 2,
              app.maximumConnections >= 3,
              splitting.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return 1 }
        return 2
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
        background.submit("load a shard") { _ = try await self.shard(for: tenant) }
        return rotation
    }

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
        // With int8 codes beside the floats (+25 % memory): a shard big enough for them to pay
        // (`SearchMode.auto`, 2M floats and up) is scanned in int8 and its candidates re-scored
        // in fp32, the same results and scores from a quarter of the memory traffic.
        let options = Shard.Options(quantized: true)
        let dimension = secrets.rotation.outputDimension
        // The counter and the faces at one moment: the feed goes on from exactly there. Each
        // template goes from the row just received into the shard's memory, normalised and
        // quantised there, while the next rows arrive. One transaction on one connection, as
        // any request's; a big tenant is read in parts, each on a connection of its own and all
        // in one snapshot.
        // A split taken (see `splitFor`) is given back however the load ends.
        let tookSplit = Mutex(false)
        defer { if tookSplit.withLock({ $0 }) { splitting.store(false, ordering: .releasing) } }
        let ((point, sealedOnly), loads) = try await app.withSharedSnapshot(tenant.id) { transaction in
            (try await FaceRepository.loadPoint(in: transaction), try await FaceRepository.facesWithoutTemplate(in: transaction))
        } parts: { prepared in
            let parts = self.splitFor(tenant, faces: prepared.0.faces)
            tookSplit.withLock { $0 = parts > 1 }
            return parts
        } _: { prepared, part, parts, transaction in
            // A count from the database only sizes memory: held to what a shard can be.
            let expected = min(max(0, prepared.0.faces), 1 << 30)
            let load = try ShardLoad(dimension: dimension, options: options, expectedRows: expected / parts + expected / 100 + 1)
            try await FaceRepository.forEachTemplate(part: part, of: parts, split: prepared.0.split, in: transaction) { face, person, floats in
                load.append(face: face, person: person, bigEndianFloats: floats)
            }
            return load
        }
        let parts = loads.count
        let read = ContinuousClock.now - started
        // Faces enrolled while the tenant kept no searchable templates: opened from the sealed ones.
        var opened: [(UUID, [Float])] = []
        for (face, stored) in try rotated(sealedOnly, tenant: tenant, secrets: secrets) {
            let taken = stored.template.withUnsafeBufferPointer { loads[0].append(face: face, person: stored.person, embedding: $0) }
            if taken { opened.append((face, stored.template)) }
        }
        let skipped = loads.reduce(0) { $0 + $1.skipped }
        if skipped > 0 {
            logger.error("stored templates that are no embedding were left out", metadata: ["tenant": "\(tenant.slug)", "faces": "\(skipped)"])
        }
        let shard = try Shard(dimension: dimension, options: options, loaded: loads)
        // Now that searchable templates are on, write theirs (of the faces the shard took), so
        // pgvector can answer for them too while a shard is cold.
        if tenant.settings.searchableTemplates, !opened.isEmpty {
            try await app.withTenant(tenant.id) { [opened] in try await FaceRepository.storeTemplates(opened, onlyMissing: true, in: $0) }
        }
        let elapsed = ContinuousClock.now - started
        logger.info(
            "shard loaded",
            metadata: [
                "tenant": "\(tenant.slug)", "faces": "\(shard.count)", "ms": "\(Int((elapsed / .milliseconds(1)).rounded()))",
                "read_ms": "\(Int((read / .milliseconds(1)).rounded()))", "parts": "\(parts)",
            ])
        return ShardFeed(
            tenant: tenant.id, label: tenant.slug, shard: shard, keyVersion: secrets.version, applied: point.change,
            source: changeSource(tenant, secrets: secrets), logger: logger
        ) { [shards, background] feed, why in
            background.submit("drop a stale shard") { await shards.drop(tenant.id, feed: feed, why: why) }
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

extension ShardLoader: ChangeSubscriber {
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
