// Cutting migration files into statements: semicolons inside quotes, bodies and comments stay.

import Testing

@testable import Storage

@Suite struct SQLScriptTests {
    @Test func splitsAtTopLevelSemicolons() {
        #expect(SQLScript.statements("CREATE TABLE a (x int); CREATE TABLE b (y int);")
            == ["CREATE TABLE a (x int)", "CREATE TABLE b (y int)"])
    }

    @Test func keepsSemicolonsInsideStringsAndIdentifiers() {
        let script = #"INSERT INTO t VALUES ('a;b', 'it''s; fine'); SELECT "odd;name" FROM t;"#
        #expect(SQLScript.statements(script)
            == [#"INSERT INTO t VALUES ('a;b', 'it''s; fine')"#, #"SELECT "odd;name" FROM t"#])
    }

    @Test func honoursBackslashEscapesOnlyInEscapeStrings() {
        let script = #"SELECT E'a\';b'; SELECT 'c\'; SELECT 2;"#
        #expect(SQLScript.statements(script) == [#"SELECT E'a\';b'"#, #"SELECT 'c\'"#, "SELECT 2"])
    }

    @Test func keepsDollarQuotedBodiesWhole() {
        let script = """
            DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;
            CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
            SELECT $1;
            """
        #expect(SQLScript.statements(script) == [
            "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$",
            "SELECT $1",
        ])
    }

    @Test func ignoresCommentsAndBlankStatements() {
        let script = """
            -- a comment; with a semicolon
            /* block; /* nested; */ still comment; */
            SELECT 1; ;
            -- trailing comment only
            """
        #expect(SQLScript.statements(script) == ["SELECT 1"])
    }

    @Test func theSchemaMigrationSplitsIntoItsStatements() throws {
        let schema = try #require(try Migration.bundled().first)
        let statements = SQLScript.statements(schema.sql)
        #expect(statements.count > 20)
        #expect(statements.allSatisfy { !$0.hasSuffix(";") && !$0.isEmpty })
        #expect(statements.contains { $0.hasPrefix("CREATE FUNCTION authenticate_api_key") && $0.hasSuffix("$$") })
    }
}
