// The handle a repository gets inside `withTenant`: one connection, one transaction, one tenant.

import Foundation
import Logging
import PostgresNIO

/// A transaction in which `app.tenant_id` is set to `tenantID`, so row-level security admits
/// that tenant's rows only. Queries still name `tenant_id` themselves: two locks on the door,
/// and the planner can use the indexes that lead with it.
public struct TenantTransaction {
    public let tenantID: UUID
    public let connection: PostgresConnection
    public let logger: Logger

    /// A statement run to its end, rows read and dropped. A SELECT of a function (a lock, a
    /// notify, a guarded insert) reports its error only as its rows are read; left unread, the
    /// error would surface nowhere, and COMMIT of the failed transaction quietly rolls it back.
    public func run(_ query: PostgresQuery, file: String = #fileID, line: Int = #line) async throws {
        try await connection.answered(logger: logger) { [connection, logger] in
            _ = try await connection.query(query, logger: logger, file: file, line: line).collect()
        }
    }

    @discardableResult
    public func query(
        _ query: PostgresQuery, file: String = #fileID, line: Int = #line
    ) async throws -> PostgresRowSequence {
        try await connection.answered(logger: logger) { [connection, logger] in
            try await connection.query(query, logger: logger, file: file, line: line)
        }
    }
}

extension TenantTransaction {
    /// Runs `body` as `tenant` inside an already open transaction, then clears the tenant again:
    /// for work that must touch several tenants atomically (applying a provisioning file).
    public static func switching<Result: Sendable>(
        to tenant: UUID, on connection: PostgresConnection, logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (TenantTransaction) async throws -> Result
    ) async throws -> Result {
        let entering = TenantTransaction(tenantID: tenant, connection: connection, logger: logger)
        try await entering.run("SELECT set_config('app.tenant_id', \(tenant.uuidString.lowercased()), true)")
        let result = try await body(entering)
        try await entering.run("SELECT set_config('app.tenant_id', '', true)")
        return result
    }
}
