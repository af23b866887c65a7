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

    @discardableResult
    public func query(
        _ query: PostgresQuery, file: String = #fileID, line: Int = #line
    ) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger, file: file, line: line)
    }
}
