// A tenant's lifecycle: pending → active ⇄ suspended → deleted, and pending → deleted. Nothing else.

public enum TenantStatus: String, Sendable, Codable, CaseIterable {
    case pending, active, suspended, deleted

    /// The transitions the lifecycle allows. Deleting an active tenant takes two deliberate
    /// steps (suspend, then delete), so one mistaken call cannot begin the purge of a tenant in use;
    /// a pending one (never served, say created by mistake) is deleted as it is, without first
    /// being activated, which would make its key live.
    public func canBecome(_ next: TenantStatus) -> Bool {
        switch (self, next) {
        case (.pending, .active), (.pending, .deleted), (.active, .suspended), (.suspended, .active), (.suspended, .deleted): true
        default: false
        }
    }
}

/// A refused lifecycle change.
public struct LifecycleError: Error, Sendable, Equatable {
    public let from: TenantStatus
    public let to: TenantStatus

    public init(from: TenantStatus, to: TenantStatus) {
        self.from = from
        self.to = to
    }

    public var detail: String {
        switch (from, to) {
        case (.active, .deleted): "an active tenant must be suspended before it can be deleted"
        // Moves the lifecycle allows, asked for with the other verb.
        case (.suspended, .active): "a suspended tenant is reactivated, not activated"
        case (.pending, .active): "a pending tenant is activated, not reactivated"
        case (_, .deleted) where from == .deleted: "the tenant is already deleted"
        default: "a \(from.rawValue) tenant cannot become \(to.rawValue)"
        }
    }
}
