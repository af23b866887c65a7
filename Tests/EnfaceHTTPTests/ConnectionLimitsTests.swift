// Clients that hold connections without finishing a request, and clients that guess keys: neither
// may slow anyone else down, and both are cut off.

import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TestSupport

@Suite(.scratchDatabase)
struct ConnectionLimitsTests {
    @Test func fourHundredHalfSentRequestsNeitherSlowANewClientNorStayOpen() async throws {
        try await LiveService.run(["ENFACE_HTTP_IDLE_TIMEOUT_SECONDS": "3"]) { enface in
            let port = try #require(enface.port)
            // 400 clients each send half a request head and then nothing.
            let stalled = try (0..<400).map { index in
                let connection = try RawConnection(port: port)
                connection.send("POST /v1/search HTTP/1.1\r\nHost: localhost\r\nX-API-Key: efk_\(index)")
                return connection
            }
            // A new client is answered at once (the best of three, so that the rest of the suite
            // sharing these two cores does not decide it).
            var fastest = Duration.seconds(60)
            for _ in 0..<3 {
                let started = ContinuousClock.now
                #expect(try await enface.call(.get, "/healthz").status == .ok)
                fastest = min(fastest, ContinuousClock.now - started)
            }
            #expect(fastest < .seconds(1), "/healthz took \(fastest) beside 400 stalled connections")
            // Each stalled connection is closed by the server (here after 3 s; by default 30 s):
            // all of them within one minute, however many stay open.
            let deadline = ContinuousClock.now + .seconds(60)
            var open = 0
            for connection in stalled {
                let left = max(.milliseconds(1), deadline - ContinuousClock.now)
                if connection.readUntilClosed(timeout: left) == nil { open += 1 }
            }
            #expect(open == 0, "\(open) of 400 half-sent requests stayed open for a minute")
        }
    }

    @Test func aClientGuessingKeysIsRefusedBeforeItsNextGuessCostsALookup() async throws {
        // Five failures a minute: one more every 12 s, longer than this test takes to guess.
        try await LiveService.run(["ENFACE_HTTP_ANONYMOUS_PER_MINUTE": "5"]) { enface in
            let tenant = try await enface.createTenant()
            #expect(try await enface.call(.get, "/v1/tenant", key: tenant.key).status == .ok)
            var statuses: [HTTPResponse.Status] = []
            for guess in 0..<8 {
                let key = "efk_" + String(repeating: "g", count: 38) + String(format: "%05d", guess)
                statuses.append(try await enface.call(.get, "/v1/tenant", key: key).status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized }, "\(statuses)")
            #expect(statuses.suffix(3).allSatisfy { $0 == .tooManyRequests }, "\(statuses)")
            let limited = try await enface.call(.get, "/v1/tenant", key: "efk_nope")
            #expect(limited.code == "rate_limited" && limited.headers[.retryAfter] != nil)
            // Operator tokens are guessed the same way, and refused the same way.
            let guessOperator = try await enface.call(.get, "/admin/v1/tenants", headers: [.authorization: "Bearer nope"])
            #expect(guessOperator.status == .tooManyRequests)
            // A neighbour behind the same address with a key this node holds as valid still works.
            #expect(try await enface.call(.get, "/v1/tenant", key: tenant.key).status == .ok)
        }
    }
}
