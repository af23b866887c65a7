// One entry of the audit trail.

import Foundation
import WireFormats

public struct AuditEvent: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        case success, denied, failure
    }

    /// The tenant it concerns; `AuditEvent.platform` for events that concern none.
    public var tenantID: UUID
    /// `operator:<name>`, `key:<prefix>:<id>`, `jwt:<issuer>:<subject>`, `system`, `anonymous`.
    public var actor: String
    /// Dotted verb: `tenant.create`, `tenant.suspend`, `key.revoke`, `auth.failure`, …
    public var action: String
    public var target: String?
    public var outcome: Outcome
    /// Before/after of what changed, reasons, counts. Never secrets, keys or templates.
    public var detail: JSONValue

    public init(
        tenantID: UUID, actor: String, action: String, target: String? = nil, outcome: Outcome = .success,
        detail: JSONValue = [:]
    ) {
        self.tenantID = tenantID
        self.actor = actor
        self.action = action
        self.target = target
        self.outcome = outcome
        self.detail = detail
    }

    /// The nil UUID: platform events belong to no tenant, and `tenant_id` is never null.
    public static let platform = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// `{"field": {"before": …, "after": …}}` for the fields that differ.
    public static func diff(before: JSONValue, after: JSONValue) -> JSONValue {
        guard case .object(let old) = before, case .object(let new) = after else {
            return before == after ? [:] : ["before": before, "after": after]
        }
        var changes: [String: JSONValue] = [:]
        for key in Set(old.keys).union(new.keys).sorted() where old[key] != new[key] {
            changes[key] = ["before": old[key] ?? .null, "after": new[key] ?? .null]
        }
        return .object(changes)
    }
}

/// An event as stored: with its place in the chain.
public struct RecordedAuditEvent: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var event: AuditEvent
    public var previousHash: [UInt8]?
    public var hash: [UInt8]
    /// The version of the audit key that hashed it.
    public var keyVersion: Int

    public init(id: Int64, at: Date, event: AuditEvent, previousHash: [UInt8]?, hash: [UInt8], keyVersion: Int = 1) {
        self.id = id
        self.at = at
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
        self.keyVersion = keyVersion
    }
}
