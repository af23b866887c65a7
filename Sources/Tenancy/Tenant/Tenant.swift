// A tenant as the service sees it.

import Foundation

public struct Tenant: Sendable, Codable, Equatable {
    @WireUUID public var id: UUID
    public var slug: String
    public var name: String
    public var status: TenantStatus
    public var plan: Plan
    public var model: String
    public var settings: TenantSettings
    public var quotas: Quotas
    public var createdAt: Date
    public var activatedAt: Date?
    public var suspendedAt: Date?
    public var suspendReason: String?
    public var deletedAt: Date?
    public var purgeAfter: Date?
    public var purgedAt: Date?
    /// Counts up each time the tenant's key is re-wrapped or replaced: nodes holding the key
    /// (and the shard rotated by it) know to read it again. Not part of the wire form.
    public var keyVersion: Int = 1

    enum CodingKeys: String, CodingKey {
        case id, slug, name, status, plan, model, settings, quotas, createdAt, activatedAt, suspendedAt, suspendReason
        case deletedAt, purgeAfter, purgedAt
    }

    public init(
        id: UUID, slug: String, name: String, status: TenantStatus, plan: Plan, model: String,
        settings: TenantSettings, quotas: Quotas, createdAt: Date, activatedAt: Date? = nil, suspendedAt: Date? = nil,
        suspendReason: String? = nil, deletedAt: Date? = nil, purgeAfter: Date? = nil, purgedAt: Date? = nil,
        keyVersion: Int = 1
    ) {
        self.id = id
        self.slug = slug
        self.name = name
        self.status = status
        self.plan = plan
        self.model = model
        self.settings = settings
        self.quotas = quotas
        self.createdAt = createdAt
        self.activatedAt = activatedAt
        self.suspendedAt = suspendedAt
        self.suspendReason = suspendReason
        self.deletedAt = deletedAt
        self.purgeAfter = purgeAfter
        self.purgedAt = purgedAt
        self.keyVersion = keyVersion
    }

    /// `^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$`: 3 to 50 characters, usable in a host name; never a UUID.
    public static func isValidSlug(_ slug: String) -> Bool {
        // Never shaped as a UUID: operators name a tenant by id or slug, and an id is tried first.
        slug.wholeMatch(of: /[a-z0-9][a-z0-9-]{1,48}[a-z0-9]/) != nil && UUID(uuidString: slug) == nil
    }
}

extension Tenant {
    /// Moves the tenant to `status` at `now`, with the timestamps that go with it: the first
    /// activation is kept, a suspension records its reason, a deletion sets when the data is
    /// purged (the database's trigger sets the same, from the quotas before the change). Which
    /// moves are allowed is `TenantStatus`'s rule; this is only what each move writes.
    public mutating func enter(_ status: TenantStatus, reason: String? = nil, at now: Date) {
        self.status = status
        switch status {
        case .active:
            if activatedAt == nil { activatedAt = now }
            suspendedAt = nil
            suspendReason = nil
        case .suspended:
            suspendedAt = now
            suspendReason = reason
        case .deleted:
            deletedAt = now
            purgeAfter = now.addingTimeInterval(Double(quotas.retentionDays) * 86_400)
        case .pending:
            break
        }
    }
}
