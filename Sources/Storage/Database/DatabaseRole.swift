// The three PostgreSQL roles Enface logs in as. Each runtime plane has its own role, so a bug
// in one plane cannot use the privileges of another.

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
