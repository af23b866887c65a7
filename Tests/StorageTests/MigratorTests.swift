// Migrations against a real, empty database: in order, once, atomically, one migrator at a time.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite struct MigratorTests {
    func appliedVersions(_ database: ScratchDatabase) async throws -> [Int] {
        try await database.withConnection(.owner) { connection in
            try await connection.query("SELECT version FROM schema_migrations ORDER BY version", logger: TestEnvironment.logger)
                .collect().map { try $0.decode(Int.self) }
        }
    }

    func tableExists(_ name: String, in database: ScratchDatabase) async throws -> Bool {
        try await database.withConnection(.owner) { connection in
            try await connection.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: TestEnvironment.logger)
                .collect().first!.decode(Bool.self)
        }
    }

    @Test(.emptyScratchDatabase)
    func appliesTheBundledMigrationsAndReRunningIsANoOp() async throws {
        let database = try ScratchDatabase.required()
        let migrator = Migrator(migrations: try Migration.bundled())
        let versions = migrator.migrations.map(\.version)

        let first = try await migrator.migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        #expect(first.applied == versions)
        let second = try await migrator.migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        #expect(second.applied.isEmpty)
        #expect(second.alreadyApplied == versions)
        #expect(try await appliedVersions(database) == versions)
        #expect(try await migrator.state(database.endpoint(.app), logger: TestEnvironment.logger) == .current)
    }

    @Test(.emptyScratchDatabase)
    func aFileChangedAfterItWasAppliedIsRefusedAndNothingElseRuns() async throws {
        let database = try ScratchDatabase.required()
        let directory = try TemporaryDirectory()
        try directory.write("0001_first.sql", "CREATE TABLE first_table (x int);")
        try await Migrator(migrations: Migration.load(from: directory.url))
            .migrate(database.endpoint(.owner), logger: TestEnvironment.logger)

        try directory.write("0001_first.sql", "CREATE TABLE first_table (x bigint);")
        try directory.write("0002_second.sql", "CREATE TABLE second_table (x int);")
        let edited = Migrator(migrations: try Migration.load(from: directory.url))
        await #expect {
            try await edited.migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        } throws: { error in
            guard case MigrationError.changedAfterApply(version: 1, name: "first", _, _) = error else { return false }
            return true
        }
        #expect(try await appliedVersions(database) == [1])
        #expect(try await !tableExists("second_table", in: database))
        guard case .invalid(.changedAfterApply) = try await edited.state(database.endpoint(.owner), logger: TestEnvironment.logger)
        else {
            Issue.record("state does not report the changed file")
            return
        }
    }

    @Test(.emptyScratchDatabase)
    func aFailingMigrationLeavesNoTraceAndStopsTheRun() async throws {
        let database = try ScratchDatabase.required()
        let directory = try TemporaryDirectory()
        try directory.write("0001_good.sql", "CREATE TABLE good_table (x int);")
        try directory.write("0002_bad.sql", "CREATE TABLE half_table (x int);\nSELECT 1 / 0;")
        try directory.write("0003_later.sql", "CREATE TABLE later_table (x int);")
        await #expect {
            try await Migrator(migrations: Migration.load(from: directory.url))
                .migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        } throws: { error in
            guard case MigrationError.failed(version: 2, name: "bad", let reason) = error else { return false }
            return reason.contains("division by zero")
        }
        #expect(try await appliedVersions(database) == [1])
        #expect(try await tableExists("good_table", in: database))
        #expect(try await !tableExists("half_table", in: database))
        #expect(try await !tableExists("later_table", in: database))
    }

    @Test(.emptyScratchDatabase)
    func aDatabaseAheadOfTheBinaryIsRefused() async throws {
        let database = try ScratchDatabase.required()
        let directory = try TemporaryDirectory()
        try directory.write("0001_a.sql", "SELECT 1;")
        try directory.write("0002_b.sql", "SELECT 2;")
        try await Migrator(migrations: Migration.load(from: directory.url))
            .migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        let older = Migrator(migrations: [Migration(version: 1, name: "a", sql: "SELECT 1;")])
        await #expect(throws: MigrationError.unknownApplied(version: 2, name: "b")) {
            try await older.migrate(database.endpoint(.owner), logger: TestEnvironment.logger)
        }
    }

    @Test(.emptyScratchDatabase)
    func twoConcurrentMigratorsLeaveOneCleanResult() async throws {
        let database = try ScratchDatabase.required()
        let migrator = Migrator(migrations: try Migration.bundled())
        let endpoint = database.endpoint(.owner)
        async let one = migrator.migrate(endpoint, logger: TestEnvironment.logger)
        async let two = migrator.migrate(endpoint, logger: TestEnvironment.logger)
        let reports = try await [one, two]

        let versions = migrator.migrations.map(\.version)
        // Exactly one of them did the work; the other waited on the lock and found none left.
        #expect(reports.map(\.applied).sorted { $0.count < $1.count } == [[], versions])
        #expect(try await appliedVersions(database) == versions)
        #expect(try await tableExists("faces", in: database))
    }
}
