// A statement is always answered: one whose connection closes under it and never hears back is
// given up within seconds (PostgresNIO once lost such a statement, and its transaction waited
// for ever); one that merely runs long on an open connection is waited for.

@testable import Storage
import PostgresNIO
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct AnsweredStatementTests {
    @Test(.timeLimit(.minutes(1))) func aStatementThatNeverEndsOnAClosedConnectionIsGivenUp() async throws {
        try await ScratchDatabase.required().withConnection(.app) { connection in
            let started = ContinuousClock.now
            // A wait that nothing ends, as a lost statement's promise: only closing can answer it.
            let never = AsyncStream<Void>.makeStream()
            let answer = Task {
                try await connection.answered(logger: TestEnvironment.logger) {
                    for await _ in never.stream {}
                }
            }
            try await connection.close()
            await #expect(throws: DatabaseUnavailable.self) { try await answer.value }
            // Two looks a second apart, on a busy machine: seconds, not for ever.
            #expect(ContinuousClock.now - started < .seconds(30))
            never.continuation.finish()
        }
    }

    @Test func aLongStatementOnAnOpenConnectionIsWaitedFor() async throws {
        try await ScratchDatabase.required().withConnection(.app) { connection in
            let rows = try await connection.answered(logger: TestEnvironment.logger) {
                try await connection.query("SELECT 7 FROM pg_sleep(2.5)", logger: TestEnvironment.logger).collect()
            }
            #expect(try rows.first?.decode(Int.self) == 7)
        }
    }

    @Test(.timeLimit(.minutes(1))) func theCallersCancellationReachesTheStatement() async throws {
        try await ScratchDatabase.required().withConnection(.app) { connection in
            // Reading rows stops when the request is cancelled, as it did before statements ran
            // in a task of their own.
            let caller = Task {
                try await connection.answered(logger: TestEnvironment.logger) { try await Task.sleep(for: .seconds(600)) }
            }
            caller.cancel()
            await #expect(throws: CancellationError.self) { try await caller.value }
        }
    }

    @Test func aStatementsOwnErrorComesBackUnchanged() async throws {
        _ = try await ScratchDatabase.required().withConnection(.app) { connection in
            await #expect(throws: PSQLError.self) {
                try await connection.answered(logger: TestEnvironment.logger) {
                    try await connection.query("SELECT * FROM no_such_table", logger: TestEnvironment.logger).collect()
                }
            }
        }
    }
}
