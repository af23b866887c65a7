// Bulk enroll: many faces in one transaction, each answered on its own. Every item passes the
// checks a single enroll makes (its embedding, the duplicate check, the person's limit and the
// tenant's quota, counted in item order), and what passes commits together.

import FaceIndex
import Foundation
import Storage
import TemplateProtection
import Tenancy

extension FaceRegistry {
    /// One face of a batch, its person id already checked.
    public struct BatchItem: Sendable {
        public var personID: String
        public var embedding: [Float]

        public init(personID: String, embedding: [Float]) {
            self.personID = personID
            self.embedding = embedding
        }
    }

    /// What became of one item.
    public enum BatchResult: Sendable, Equatable {
        case enrolled(Enrolled)
        case refused(FaceError)
    }

    /// Enrolls the items that pass, in one transaction; the answer has one result per item, in
    /// order. With `idempotency`, a batch sent again with its key gets the first answer.
    public func enroll(
        batch items: [BatchItem], context: TenantContext, idempotency: Idempotency<[BatchResult]>? = nil
    ) async throws -> Answered<[BatchResult]> {
        let tenant = context.tenant
        if let answer = try await storedAnswer(idempotency, tenant: tenant.id) { return .replayed(answer) }
        let probes = items.map { item in Result { () throws(FaceError) in try probe(item.embedding, tenant: tenant) } }
        let duplicates = try await duplicateChecks(probes.map { try? $0.get() }, persons: items.map(\.personID), context: context)
        let checked = zip(items, zip(probes, duplicates)).map { item, checks -> Checked in
            switch checks {
            case (.failure(let error), _):
                return .refused(error)
            case (.success, let found?) where tenant.settings.duplicateCheck == .refuse && found.count > 0:
                return .refused(.possibleDuplicate(found))
            case (.success(let template), let found):
                return .passed(person: item.personID, template: template, duplicates: found)
            }
        }
        do {
            return try await enroll(checked, tenant: tenant, idempotency: idempotency)
        } catch is KeyChanged {
            keys.forget(context.tenantID)
            return try await enroll(checked, tenant: tenant, idempotency: idempotency)
        }
    }

    /// An item after the checks that need no transaction.
    enum Checked: Sendable {
        case passed(person: String, template: [Float], duplicates: PossibleDuplicates?)
        case refused(FaceError)
    }

    private func enroll(
        _ checked: [Checked], tenant: Tenant, idempotency: Idempotency<[BatchResult]>?
    ) async throws -> Answered<[BatchResult]> {
        let secrets = try await keys.secrets(tenant)
        let passed = checked.compactMap { item -> (person: String, template: [Float])? in
            guard case .passed(let person, let template, _) = item else { return nil }
            return (person, template)
        }
        let rotated = await Self.inParallel(passed.map(\.template)) { secrets.rotation.apply($0) }
        let persons = Array(Set(passed.map(\.person))).sorted()
        let newKeys = try persons.map { try secrets.key.wrap(PersonKey.generate(), tenantID: tenant.id, personID: $0) }

        let outcome: Answered<([BatchResult], [FaceRepository.LoggedChange], [UUID: [Float]])> = try await app.withTenant(tenant.id) { transaction in
            if let answer = try await Self.claim(idempotency, in: transaction) { return .replayed(answer) }
            let found = persons.isEmpty ? [:] : try await FaceRepository.persons(persons, creatingWith: newKeys, in: transaction)
            let row = try await FaceRepository.lockTenant(in: transaction)
            guard row.keyVersion == secrets.version else { throw KeyChanged() }
            var personKeys: [String: PersonKey] = [:]
            for (person, record) in found {
                guard let key = try? secrets.key.unwrapPersonKey(record.wrappedKey, tenantID: tenant.id, personID: person) else {
                    throw KeyChanged()
                }
                personKeys[person] = key
            }
            // The limits, item by item in order, as single enrolls one after another would meet them.
            var counts = found.mapValues(\.faceCount)
            var total = row.faceCount
            var results: [BatchResult] = []
            var accepted: [(face: UUID, person: String, template: [Float], rotated: [Float])] = []
            var next = 0
            for item in checked {
                guard case .passed(let person, let template, let duplicates) = item else {
                    if case .refused(let error) = item { results.append(.refused(error)) }
                    continue
                }
                defer { next += 1 }
                let count = counts[person] ?? 0
                if count >= tenant.settings.maxFacesPerPerson {
                    results.append(.refused(.maxFacesPerPerson(tenant.settings.maxFacesPerPerson)))
                } else if total >= tenant.quotas.maxFaces {
                    results.append(.refused(.faceQuotaExceeded(tenant.quotas.maxFaces)))
                } else {
                    counts[person] = count + 1
                    total += 1
                    let face = UUID()
                    accepted.append((face, person, template, rotated[next]))
                    results.append(.enrolled(Enrolled(faceID: face, personID: person, faceCount: count + 1, possibleDuplicates: duplicates)))
                }
            }
            let keysByPerson = personKeys
            let sealed = try await Self.inParallel(accepted) { face -> FaceRepository.NewFace in
                guard let key = keysByPerson[face.person] else { throw KeyChanged() }
                return FaceRepository.NewFace(
                    id: face.face, personID: face.person,
                    sealed: try key.seal(face.template, tenantID: tenant.id, faceID: face.face, model: tenant.model),
                    template: row.searchableTemplates ? face.rotated : nil)
            }
            let changes = try await FaceRepository.insertFaces(sealed, after: row, in: transaction)
            if !changes.isEmpty { try await notices.announce(.faces, in: transaction) }
            try await Self.remember(results, idempotency, in: transaction)
            return .fresh((results, changes, Dictionary(uniqueKeysWithValues: accepted.map { ($0.face, $0.rotated) })))
        }
        switch outcome {
        case .replayed(let answer):
            return .replayed(answer)
        case .fresh(let (results, changes, templates)):
            // Committed: into the shard in the counter's order, then answered.
            for change in changes {
                await applyOwn(change, template: change.face.flatMap { templates[$0] }, tenant: tenant.id)
            }
            if !changes.isEmpty { usage.count(UsageCounts(enrolls: Int64(changes.count)), tenant: tenant.id) }
            return .fresh(results)
        }
    }

    /// Each template's duplicate check, against the gallery as it is before the batch (nil for a
    /// template that is nil, and for all when the tenant does not check). In the tenant's shard,
    /// loaded for it if need be (pgvector would take a scan per item), through the scan scheduler.
    func duplicateChecks(_ templates: [[Float]?], persons: [String], context: TenantContext) async throws -> [PossibleDuplicates?] {
        let tenant = context.tenant
        guard tenant.settings.duplicateCheck != .off, templates.contains(where: { $0 != nil }) else {
            return templates.map { _ in nil }
        }
        let (shard, rotation) = try await shard(for: tenant)
        let threshold = searchThreshold(tenant, faces: Self.dependsOnGallery(tenant) ? shard.count : 1, minScore: nil)
        let named = context.allows(.search)
        let rounds = Self.duplicatesNamed + 1
        // In jobs of 16 scans through the scheduler, a lane a slot: one tenant's import takes its
        // turns like any search, and leaves a slot to the others.
        let jobs = stride(from: 0, to: templates.count, by: 16).map { start in
            Array(zip(templates, persons).dropFirst(start).prefix(16))
        }
        let lanes = max(1, min(scheduler.slots, jobs.count))
        do {
            return try await withThrowingTaskGroup(of: [(Int, [PossibleDuplicates?])].self) { group in
                for lane in 0..<lanes {
                    group.addTask { [scheduler, metrics] in
                        var done: [(Int, [PossibleDuplicates?])] = []
                        for index in stride(from: lane, to: jobs.count, by: lanes) {
                            let job = jobs[index]
                            done.append((index, try await scheduler.run(tenant: tenant.id, waited: metrics.scanWaited) { cores in
                                try job.map { template, person -> PossibleDuplicates? in
                                    guard let template else { return nil }
                                    let others = try shard.searchPersons(rotation.apply(template), k: rounds, cores: cores)
                                        .filter { Double($0.score) >= threshold.value && $0.personID != person }
                                        .prefix(Self.duplicatesNamed)
                                        .map { Match(personID: $0.personID, faceID: $0.faceID, score: $0.score) }
                                    return PossibleDuplicates(count: others.count, named: named ? Array(others) : nil)
                                }
                            }))
                        }
                        return done
                    }
                }
                var results = [[PossibleDuplicates?]](repeating: [], count: jobs.count)
                for try await lane in group {
                    for (index, found) in lane { results[index] = found }
                }
                return results.flatMap { $0 }
            }
        } catch is ScanScheduler.Busy {
            metrics.scanRefused(tenant: tenant.slug)
            throw FaceError.searchBusy
        }
    }

    /// `transform` over `items` on every core, in order (rotating and sealing a batch).
    static func inParallel<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ transform: @escaping @Sendable (Item) throws -> Result
    ) async rethrows -> [Result] {
        let lanes = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count / 64))
        guard lanes > 1 else { return try items.map(transform) }
        let size = (items.count + lanes - 1) / lanes
        return try await withThrowingTaskGroup(of: (Int, [Result]).self) { group in
            for lane in 0..<lanes {
                let slice = items[min(items.count, lane * size)..<min(items.count, (lane + 1) * size)]
                group.addTask { (lane, try slice.map(transform)) }
            }
            var parts = [[Result]](repeating: [], count: lanes)
            for try await (lane, part) in group { parts[lane] = part }
            return parts.flatMap { $0 }
        }
    }
}
