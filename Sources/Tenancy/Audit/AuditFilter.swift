// Which audit events to list; every field narrows.

import Foundation

public struct AuditFilter: Sendable, Equatable {
    public var tenantID: UUID?
    public var action: String?
    public var actor: String?
    public var outcome: AuditEvent.Outcome?
    public var since: Date?
    public var until: Date?
    /// Events with an id below this (pages go from newest to oldest).
    public var before: Int64?
    public var limit: Int

    public init(
        tenantID: UUID? = nil, action: String? = nil, actor: String? = nil, outcome: AuditEvent.Outcome? = nil,
        since: Date? = nil, until: Date? = nil, before: Int64? = nil, limit: Int = 100
    ) {
        self.tenantID = tenantID
        self.action = action
        self.actor = actor
        self.outcome = outcome
        self.since = since
        self.until = until
        self.before = before
        self.limit = limit
    }
}
