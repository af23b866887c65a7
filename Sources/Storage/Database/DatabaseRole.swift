// The three PostgreSQL roles Enface logs in as. Each runtime plane has its own role, so a bug
// in one plane cannot use the privileges of another.

import PostgresNIO

/// A role Enface connects as. Neither runtime role owns a table, is a superuser or bypasses
/// row-level security; only the owner runs migrations.
public enum DatabaseRole: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Owns the schema and runs migrations; not used to serve requests.
    case owner
    /// Serves tenant requests (the data plane), always inside `withTenant`.
    case app
    /// Serves the operator plane; has no privilege on persons or faces.
    case admin

    /// The login name of the role in PostgreSQL.
    public var roleName: String { "enface_\(rawValue)" }

    public var description: String { roleName }
}

extension PostgresPool {
    /// The connections `role` has open to this pool's database right now (each running node holds
    /// at least one of the data plane's: its change listener).
    public func connections(of role: DatabaseRole) async throws -> Int {
        try await query(
            """
            SELECT count(*)::int FROM pg_stat_activity
             WHERE datname = current_database() AND usename = \(role.roleName)
            """
        ).first?.decode(Int.self) ?? 0
    }
}
