// The audit trail in PostgreSQL: appended under a per-tenant lock so the chain never forks.

import Foundation
import Logging
import NIOCore
import PostgresNIO
import Tenancy
import WireFormats

public enum AuditRepository {
    /// Appends `event` to its tenant's chain, in the caller's transaction, whose tenant must be
    /// the event's (`withTenant(event.tenantID)`): the change and its record commit together.
    @discardableResult
    public static func append(
        _ event: AuditEvent, chain: AuditChain, in transaction: TenantTransaction
    ) async throws -> RecordedAuditEvent {
        precondition(transaction.tenantID == event.tenantID, "an audit event is written as its own tenant")
        // Concurrent appends for one tenant take turns, so each links to the true last event.
        try await transaction.run(
            "SELECT pg_advisory_xact_lock(hashtextextended('enface.audit.' || \(event.tenantID.uuidString.lowercased()), 0))")
        let previous = try await transaction.query(
            "SELECT hash FROM audit_events WHERE tenant_id = \(event.tenantID) ORDER BY id DESC LIMIT 1"
        ).collect().first.map { Array(buffer: try $0.decode(ByteBuffer.self)) }
        let at = AuditChain.timestamp()
        let hash = chain.hash(event, at: at, previous: previous)
        let id = try await transaction.query(
            """
            INSERT INTO audit_events (tenant_id, at, actor, action, target, outcome, detail, prev_hash, hash, key_version)
            VALUES (\(event.tenantID), timestamptz 'epoch' + \(AuditChain.microseconds(at)) * interval '1 microsecond', \(event.actor), \(event.action), \(event.target), \(event.outcome.rawValue),
                    \(event.detail.canonical)::jsonb, \(previous.map { ByteBuffer(bytes: $0) }), \(ByteBuffer(bytes: hash)), \(chain.version))
            RETURNING id
            """
        ).collect().first.orThrow(RepositoryError.noRow("audit insert")).decode(Int64.self)
        return RecordedAuditEvent(id: id, at: at, event: event, previousHash: previous, hash: hash, keyVersion: chain.version)
    }

    /// Which events to list (`AuditFilter`, in Tenancy, so that callers need not import Storage).
    public typealias Filter = AuditFilter

    /// Newest first. The operator role sees every tenant's events; the app role its own.
    public static func list(_ filter: Filter, on connection: PostgresConnection, logger: Logger) async throws -> [RecordedAuditEvent] {
        var sql = "SELECT \(columns) FROM audit_events WHERE true"
        var bindings = PostgresBindings()
        func add(_ condition: String, _ value: some PostgresNonThrowingEncodable) {
            bindings.append(value)
            sql += " AND \(condition) $\(bindings.count)"
        }
        if let tenant = filter.tenantID { add("tenant_id =", tenant) }
        if let action = filter.action { add("action =", action) }
        if let actor = filter.actor { add("actor =", actor) }
        if let outcome = filter.outcome { add("outcome =", outcome.rawValue) }
        if let since = filter.since { add("at >=", ExactTimestamp(since)) }
        if let until = filter.until { add("at <", ExactTimestamp(until)) }
        if let before = filter.before { add("id <", before) }
        bindings.append(filter.limit)
        sql += " ORDER BY id DESC LIMIT $\(bindings.count)"
        return try await decode(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger))
    }

    /// Every event of every tenant, a tenant's in chain order, a page at a time (for
    /// `enface audit verify`).
    public static func all(
        afterTenant: UUID?, afterID: Int64, limit: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [RecordedAuditEvent] {
        let start = afterTenant ?? AuditEvent.platform
        let sql = """
            SELECT \(columns) FROM audit_events
             WHERE (tenant_id, id) > ($1, $2) ORDER BY tenant_id, id LIMIT $3
            """
        var bindings = PostgresBindings()
        bindings.append(start)
        bindings.append(afterTenant == nil ? Int64(-1) : afterID)
        bindings.append(limit)
        return try await decode(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger))
    }

    static let columns =
        "id, tenant_id, (extract(epoch FROM at) * 1000000)::int8, actor, action, target, outcome, detail::text, prev_hash, hash, key_version"

    static func decode(_ rows: PostgresRowSequence) async throws -> [RecordedAuditEvent] {
        var events: [RecordedAuditEvent] = []
        for try await (id, tenant, at, actor, action, target, outcome, detail, previous, hash, keyVersion)
            in rows.decode((Int64, UUID, Int64, String, String, String?, String, String, ByteBuffer?, ByteBuffer, Int).self)
        {
            events.append(
                RecordedAuditEvent(
                    id: id, at: Date(timeIntervalSince1970: Double(at) / 1_000_000),
                    event: AuditEvent(
                        tenantID: tenant, actor: actor, action: action, target: target,
                        outcome: AuditEvent.Outcome(rawValue: outcome) ?? .failure,
                        detail: JSONValue.parse(Data(detail.utf8)) ?? .null),
                    previousHash: previous.map { Array(buffer: $0) }, hash: Array(buffer: hash), keyVersion: keyVersion))
        }
        return events
    }
}
