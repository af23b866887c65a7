// What PostgreSQL itself says about the fence between tenants, read live from its catalog.

import Logging
import PostgresNIO

/// Row-level security as the catalog has it now: every table that holds a tenant's rows (every
/// table of `public` with a `tenant_id` column, and `tenants`), whether its RLS is enabled and
/// forced, each policy, and the runtime roles' attributes. `problems` names each gap it checks
/// for (RLS off or not forced, no policy, a runtime role that is or may become a superuser, a
/// role with BYPASSRLS or an owner, or that may create roles); an empty list is the state the
/// migrations promise. Policies' own expressions are shown, not judged.
public struct SecurityCatalog: Sendable, Equatable, Encodable {
    public struct Table: Sendable, Equatable, Encodable {
        public var name: String
        public var owner: String
        public var rowLevelSecurity: Bool
        public var forced: Bool
        public var policies: [Policy]
    }

    public struct Policy: Sendable, Equatable, Encodable {
        public var name: String
        public var permissive: Bool
        public var roles: [String]
        public var command: String
        public var using: String?
        public var withCheck: String?
    }

    public struct Role: Sendable, Equatable, Encodable {
        public var name: String
        public var exists: Bool
        public var superuser: Bool
        public var bypassRowLevelSecurity: Bool
        public var createRole: Bool
        /// Tables of `public` it owns, or whose owner it can become (`SET ROLE`): an owner may
        /// turn row-level security off.
        public var ownedTables: [String]
        /// Other roles it can become that are superusers or bypass row-level security.
        public var privilegedRoles: [String]
    }

    public var tables: [Table]
    public var roles: [Role]
    public var problems: [String]

    /// Reads the catalog; `runtimeRoles` are the roles the service connects as (app, admin).
    public static func read(runtimeRoles: [String], on connection: PostgresConnection, logger: Logger) async throws -> SecurityCatalog {
        let tableRows = try await connection.query(
            """
            SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND (c.relname = 'tenants' OR EXISTS (
                    SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
             ORDER BY c.relname
            """, logger: logger
        ).collect().map { try $0.decode((String, String, Bool, Bool).self) }
        let policyRows = try await connection.query(
            """
            SELECT tablename::text, policyname::text, permissive = 'PERMISSIVE', roles::text[], cmd, qual, with_check
              FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, policyname
            """, logger: logger
        ).collect().map { try $0.decode((String, String, Bool, [String], String, String?, String?).self) }
        var policies: [String: [Policy]] = [:]
        for (table, name, permissive, roles, command, using, withCheck) in policyRows {
            policies[table, default: []].append(
                Policy(name: name, permissive: permissive, roles: roles, command: command, using: using, withCheck: withCheck))
        }
        let tables = tableRows.map { name, owner, enabled, forced in
            Table(name: name, owner: owner, rowLevelSecurity: enabled, forced: forced, policies: policies[name] ?? [])
        }
        var roles: [Role] = []
        for name in runtimeRoles {
            // pg_has_role(…, 'MEMBER'): the role is that one, or may SET ROLE to it.
            let found = try await connection.query(
                """
                SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole,
                       ARRAY(SELECT c.relname::text FROM pg_class c
                              WHERE pg_has_role(r.oid, c.relowner, 'MEMBER')
                                AND c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                              ORDER BY 1),
                       ARRAY(SELECT m.rolname::text FROM pg_roles m
                              WHERE m.oid <> r.oid AND (m.rolsuper OR m.rolbypassrls) AND pg_has_role(r.oid, m.oid, 'MEMBER')
                              ORDER BY 1)
                  FROM pg_roles r WHERE r.rolname = \(name)
                """, logger: logger
            ).collect().first.map { try $0.decode((Bool, Bool, Bool, [String], [String]).self) }
            roles.append(
                Role(
                    name: name, exists: found != nil, superuser: found?.0 ?? false, bypassRowLevelSecurity: found?.1 ?? false,
                    createRole: found?.2 ?? false, ownedTables: found?.3 ?? [], privilegedRoles: found?.4 ?? []))
        }
        return SecurityCatalog(tables: tables, roles: roles, problems: problems(tables: tables, roles: roles))
    }

    /// What the catalog guard tests refuse, said of the live database.
    static func problems(tables: [Table], roles: [Role]) -> [String] {
        var problems: [String] = []
        for table in tables {
            if !table.rowLevelSecurity { problems.append("\(table.name): row-level security is not enabled") }
            if !table.forced { problems.append("\(table.name): row-level security is not forced (its owner is not fenced)") }
            if table.policies.isEmpty { problems.append("\(table.name): no policy") }
        }
        for role in roles {
            if !role.exists { problems.append("\(role.name): no such role") }
            if role.superuser { problems.append("\(role.name): is a superuser (row-level security does not apply)") }
            if role.bypassRowLevelSecurity { problems.append("\(role.name): has BYPASSRLS") }
            if role.createRole { problems.append("\(role.name): may create roles (and grant itself their attributes)") }
            if !role.ownedTables.isEmpty {
                problems.append(
                    "\(role.name): owns, or may become the owner of, \(role.ownedTables.joined(separator: ", ")) (an owner may turn row-level security off)")
            }
            if !role.privilegedRoles.isEmpty {
                problems.append("\(role.name): may become \(role.privilegedRoles.joined(separator: ", ")), past row-level security")
            }
        }
        return problems
    }
}
