// The embedded server on a data directory of its own: first start, idempotence, crashes.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.serialized)
struct EmbeddedPostgresTests {
    /// A second cluster beside the one the other tests use; its socket lives in its own folder.
    func withPrivateCluster(_ body: (EmbeddedPostgres) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        let postgres = EmbeddedPostgres(
            options: .init(
                dataDirectory: directory.url.appendingPathComponent("data"),
                installation: TestEnvironment.embeddedPostgres.options.installation,
                virtualEnvironment: TestEnvironment.embeddedPostgres.options.virtualEnvironment))
        do {
            try await body(postgres)
        } catch {
            _ = try? postgres.stop()
            throw error
        }
        _ = try postgres.stop()
    }

    func answers(_ postgres: EmbeddedPostgres) async throws -> Bool {
        try await postgres.endpoint(for: .app).withConnection(logger: TestEnvironment.logger) { connection in
            try await connection.query("SELECT current_user", logger: TestEnvironment.logger)
                .collect().first?.decode(String.self) == "enface_app"
        }
    }

    @Test func startsOnceAndThenReportsItIsAlreadyRunning() async throws {
        try await withPrivateCluster { postgres in
            let fresh = try postgres.status()
            #expect(fresh == .init(initialized: false, running: false, pid: nil))
            let first = try await postgres.start(logger: TestEnvironment.logger)
            let second = try await postgres.start(logger: TestEnvironment.logger)
            #expect(first == .started)
            #expect(second == .alreadyRunning)
            let running = try postgres.status()
            #expect(running.running && running.pid != nil)
            let answered = try await answers(postgres)
            #expect(answered)
            let stopped = try postgres.stop()
            let stoppedAgain = try postgres.stop()
            #expect(stopped && !stoppedAgain)
            let after = try postgres.status()
            #expect(after == .init(initialized: true, running: false, pid: nil))
        }
    }

    @Test func keepsItsPasswordsInAFileOnlyItsOwnerCanRead() async throws {
        try await withPrivateCluster { postgres in
            try await postgres.start(logger: TestEnvironment.logger)
            let attributes = try FileManager.default.attributesOfItem(atPath: postgres.secretsFile.path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let cluster = try FileManager.default.attributesOfItem(atPath: postgres.clusterDirectory.path)
            #expect((cluster[.posixPermissions] as? Int) == 0o700)
            if geteuid() == 0 {
                #expect((cluster[.ownerAccountName] as? String) == postgres.options.account)
            }
            #expect(try postgres.endpoint(for: .app).password != postgres.endpoint(for: .admin).password)
        }
    }

    @Test func recoversFromACrashThatLeftItsPidFileBehind() async throws {
        try await withPrivateCluster { postgres in
            try await postgres.start(logger: TestEnvironment.logger)
            let pid = try #require(try postgres.status().pid)
            kill(pid, SIGKILL)
            try await poll("the postmaster to die") { try postgres.status().running ? nil : true }
            #expect(FileManager.default.fileExists(atPath: postgres.clusterDirectory.appendingPathComponent("postmaster.pid").path))

            #expect(try await postgres.start(logger: TestEnvironment.logger) == .started)
            #expect(try await answers(postgres))
        }
    }

    @Test func ignoresAPidFileNamingSomeOtherLiveProcess() async throws {
        try await withPrivateCluster { postgres in
            try await postgres.start(logger: TestEnvironment.logger)
            try postgres.stop()
            // After a reboot the old pid may belong to anything: here, to this test process.
            let pidFile = postgres.clusterDirectory.appendingPathComponent("postmaster.pid")
            try Data("\(getpid())\n\(postgres.clusterDirectory.path)\n".utf8).write(to: pidFile)
            #expect(try !postgres.status().running)
            #expect(try await postgres.start(logger: TestEnvironment.logger) == .started)
            #expect(try await answers(postgres))
        }
    }
}
