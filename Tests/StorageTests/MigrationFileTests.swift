// The rules for migration files, checked without a database.

import Foundation
import TestSupport
import Testing

@testable import Storage

@Suite struct MigrationFileTests {
    @Test func theBundledMigrationsAreTheRepositoryFolder() throws {
        let bundled = try Migration.bundled()
        let folder = try Migration.load(from: TestEnvironment.repositoryRoot.appendingPathComponent("migrations"))
        #expect(!bundled.isEmpty)
        #expect(bundled == folder)
        #expect(bundled.map(\.version) == Array(1...bundled.count))
    }

    @Test func checksumIsTheSHA256OfTheFile() {
        #expect(Migration(version: 1, name: "x", sql: "a").checksum
            == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")
    }

    @Test(arguments: ["1_schema.sql", "0001-schema.sql", "0001_Schema.sql", "schema.sql"])
    func refusesBadFileNames(_ name: String) throws {
        let directory = try TemporaryDirectory()
        try directory.write(name, "SELECT 1;")
        #expect(throws: MigrationError.badFileName(name)) { try Migration.load(from: directory.url) }
    }

    @Test func refusesTwoFilesWithOneNumber() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_a.sql", "SELECT 1;")
        try directory.write("0001_b.sql", "SELECT 2;")
        #expect(throws: MigrationError.duplicateVersion(1)) { try Migration.load(from: directory.url) }
    }

    @Test func ignoresFilesThatAreNotSQL() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_a.sql", "SELECT 1;")
        try directory.write("README.md", "notes")
        #expect(try Migration.load(from: directory.url).map(\.name) == ["a"])
    }
}
