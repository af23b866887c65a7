// Telling every node that a tenant changed, and finding which tenant a notice is about.

import Foundation
import Logging
import PostgresNIO
import Storage
import Synchronization
import TemplateProtection

/// Writes announce their tenant's tag on commit, `f.<tag>` for its faces and `t.<tag>` for the
/// tenant itself (status, settings, keys); the listener turns a tag back into a tenant this node
/// has met (holds a shard, a cached key or tenant of). A tag of a tenant it never met needs
/// nothing done, so it is ignored.
public final class ChangeNotices: Sendable {
    /// What changed: its faces (shards catch up from the log) or the tenant (caches forget it).
    public enum Kind: String, Sendable {
        case faces = "f"
        case tenant = "t"
    }

    private let tags: NoticeTags
    private let known = Mutex<[String: UUID]>([:])

    public init(tags: NoticeTags) {
        self.tags = tags
    }

    /// The tenant's tag; the tenant is remembered as met.
    public func tag(for tenant: UUID) -> String {
        let tag = tags.tag(for: tenant)
        known.withLock { $0[tag] = tenant }
        return tag
    }

    /// Remembers `tenant` as met: notices about it are read from now on.
    public func remember(_ tenant: UUID) {
        _ = tag(for: tenant)
    }

    /// What a notice says: its kind, and its tenant if this node has met it (nil: some tenant
    /// this node holds nothing of, which matters only to reads in flight).
    public func read(_ payload: String) -> (tenant: UUID?, kind: Kind)? {
        let parts = payload.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[0])) else { return nil }
        return (known.withLock { $0[String(parts[1])] }, kind)
    }

    /// Announces a change of `tenant` when the transaction on `connection` commits.
    public func announce(_ kind: Kind, of tenant: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await ChangeChannel.announce("\(kind.rawValue).\(tag(for: tenant))", on: connection, logger: logger)
    }

    public func announce(_ kind: Kind, in transaction: TenantTransaction) async throws {
        try await announce(kind, of: transaction.tenantID, on: transaction.connection, logger: transaction.logger)
    }
}

/// What a node keeps about tenants and must refresh when they change.
public protocol ChangeSubscriber: Sendable {
    /// `tenant` changed (nil: a tenant this node has not met): catch up, or forget what is
    /// cached, before trusting it again.
    func tenantChanged(_ tenant: UUID?, kind: ChangeNotices.Kind) async
    /// The listener (re)subscribed: notices may have been missed, so everything is stale.
    func resubscribed() async
}
