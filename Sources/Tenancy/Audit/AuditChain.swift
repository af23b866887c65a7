// The audit trail's chain: each event commits to the one before it, under a secret key.

import Crypto
import Foundation
import WireFormats

/// hash = HMAC-SHA256(key, canonical JSON of the event, its time and the previous hash). The key
/// is kept in the database only wrapped by the master key, which the database never sees:
/// someone who can rewrite rows cannot rewrite the chain to match. (Deleting the newest events leaves no trace; anchoring
/// the latest hash elsewhere would catch that too.)
public struct AuditChain: Sendable {
    let key: SymmetricKey
    /// Which of the audit keys this is (1, then one more with each `enface keys rotate-audit`):
    /// every event names the version that hashed it.
    public let version: Int

    public init(key: SymmetricKey, version: Int = 1) {
        self.key = key
        self.version = version
    }

    /// Events are timestamped to the microsecond, the precision PostgreSQL keeps.
    public static func timestamp(_ date: Date = Date()) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1_000_000).rounded(.down) / 1_000_000)
    }

    /// The event time as whole microseconds since 1970: what is hashed and what is stored, exactly
    /// (a `Date` is a binary fraction, and rounding it twice on the way to PostgreSQL and back
    /// could move it by a microsecond and break the chain for no reason).
    public static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    public func hash(_ event: AuditEvent, at: Date, previous: [UInt8]?) -> [UInt8] {
        let record: JSONValue = [
            "tenant": .string(event.tenantID.uuidString.lowercased()),
            "at": .number(Double(Self.microseconds(at))),
            "actor": .string(event.actor),
            "action": .string(event.action),
            "target": event.target.map(JSONValue.string) ?? .null,
            "outcome": .string(event.outcome.rawValue),
            "detail": event.detail,
            "previous": previous.map { .string($0.map { String(format: "%02x", $0) }.joined()) } ?? .null,
        ]
        return Array(HMAC<SHA256>.authenticationCode(for: Data(record.canonical.utf8), using: key))
    }

    /// Where a tenant's chain breaks, if anywhere.
    public enum Break: Sendable, Equatable, CustomStringConvertible {
        /// The event's content no longer matches its hash: it was altered.
        case altered(tenantID: UUID, id: Int64)
        /// The event does not follow the one before it: one was removed, inserted or reordered.
        case unlinked(tenantID: UUID, id: Int64)

        public var description: String {
            switch self {
            case .altered(let tenant, let id): "event \(id) of tenant \(tenant.uuidString.lowercased()) was altered"
            case .unlinked(let tenant, let id):
                "event \(id) of tenant \(tenant.uuidString.lowercased()) does not follow the event before it"
            }
        }
    }

    /// Checks one tenant's events, in id order; returns the first break.
    public func verify(_ events: [RecordedAuditEvent]) -> Break? {
        var previous: [UInt8]?
        for record in events {
            if let broken = check(record, follows: previous) { return broken }
            previous = record.hash
        }
        return nil
    }

    /// Checks one event against the hash of the event before it in its tenant's chain (nil for
    /// the tenant's first event), so a chain can be walked a page at a time.
    public func check(_ record: RecordedAuditEvent, follows previous: [UInt8]?) -> Break? {
        if record.previousHash != previous {
            return .unlinked(tenantID: record.event.tenantID, id: record.id)
        }
        if !constantTimeEquals(hash(record.event, at: record.at, previous: record.previousHash), record.hash) {
            return .altered(tenantID: record.event.tenantID, id: record.id)
        }
        return nil
    }
}

/// Every version of the audit key: the newest hashes new events, each event is checked with the
/// version it names.
public struct AuditKeyring: Sendable {
    public let chains: [Int: AuditChain]

    public init(_ chains: [AuditChain]) {
        self.chains = Dictionary(chains.map { ($0.version, $0) }) { first, _ in first }
    }

    /// The newest key (the keyring is never empty: a trail stores its first key before use).
    public var current: AuditChain? { chains.max { $0.key < $1.key }?.value }

    /// `AuditChain.check` with the key the event names; an event naming no key was altered.
    public func check(_ record: RecordedAuditEvent, follows previous: [UInt8]?) -> AuditChain.Break? {
        guard let chain = chains[record.keyVersion] else { return .altered(tenantID: record.event.tenantID, id: record.id) }
        return chain.check(record, follows: previous)
    }
}
