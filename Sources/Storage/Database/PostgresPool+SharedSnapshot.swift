// One big read split between connections, every part seeing the same moment: the first
// transaction exports its snapshot, the others import it.

import Foundation
import Logging
import PostgresNIO

extension PostgresPool {
    /// Runs `prepare`, then `body` for parts `0..<parts(prepared)` at once, each part in a read-only
    /// REPEATABLE READ transaction of its own, on a connection of its own, for `tenantID`; all
    /// see one snapshot (`pg_export_snapshot`, `SET TRANSACTION SNAPSHOT`). So a read of a
    /// million rows keeps two database processes and two of our threads busy, not one, and
    /// still reads the same rows as one transaction would. Part 0 and `prepare` run on the
    /// exporting transaction, which stays open until every part is done. Holds as many
    /// connections as parts while it runs; one part is one transaction, one connection.
    public func withSharedSnapshot<Prepared: Sendable, Result: Sendable>(
        _ tenantID: UUID, logger: Logger? = nil,
        prepare: (TenantTransaction) async throws -> Prepared,
        parts: (Prepared) -> Int,
        _ body: @escaping @Sendable (_ prepared: Prepared, _ part: Int, _ parts: Int, TenantTransaction) async throws -> Result
    ) async throws -> (Prepared, [Result]) {
        let logger = (logger ?? self.logger).databaseSafe
        return try await withTenant(tenantID, snapshot: true, logger: logger) { transaction in
            let prepared = try await prepare(transaction)
            let parts = max(1, parts(prepared))
            guard parts > 1 else { return (prepared, [try await body(prepared, 0, 1, transaction)]) }
            let exported = try await transaction.query("SELECT pg_export_snapshot()").collect().first?.decode(String.self) ?? ""
            // A snapshot's name is hex digits and dashes ("00000003-0000001B-1"); it is spliced
            // into the statement (SET takes no parameters), so nothing else is let through.
            guard !exported.isEmpty, exported.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
                throw SnapshotNotExported(name: exported)
            }
            return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
                for part in 1..<parts {
                    group.addTask {
                        try await self.withConnection { connection in
                            try await Self.transaction(
                                on: connection, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger
                            ) {
                                let transaction = TenantTransaction(tenantID: tenantID, connection: connection, logger: logger)
                                try await transaction.run(PostgresQuery(unsafeSQL: "SET TRANSACTION SNAPSHOT '\(exported)'"))
                                try await transaction.run("SELECT set_config('app.tenant_id', \(tenantID.uuidString.lowercased()), true)")
                                return (part, try await body(prepared, part, parts, transaction))
                            }
                        }
                    }
                }
                var results: [Int: Result] = [0: try await body(prepared, 0, parts, transaction)]
                for try await (part, result) in group { results[part] = result }
                return (prepared, (0..<parts).compactMap { results[$0] })
            }
        }
    }
}

/// `pg_export_snapshot()` answered something that is not a snapshot's name.
struct SnapshotNotExported: Error {
    var name: String
}
