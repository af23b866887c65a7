// The audit chain: any change to an event, or to the order of events, is found and named.

import Crypto
import Foundation
import Tenancy
import Testing
import WireFormats

@Suite struct AuditChainTests {
    let chain = AuditChain(key: SymmetricKey(size: .bits256))
    let tenant = UUID()

    func recorded(_ count: Int) -> [RecordedAuditEvent] {
        var events: [RecordedAuditEvent] = []
        for index in 0..<count {
            let event = AuditEvent(
                tenantID: tenant, actor: "operator:alice", action: "tenant.update", target: tenant.uuidString.lowercased(),
                detail: ["changes": ["name": ["before": .string("n\(index)"), "after": .string("n\(index + 1)")]], "ratio": 0.1])
            let at = AuditChain.timestamp(Date(timeIntervalSince1970: 1_800_000_000.123456 + Double(index)))
            let previous = events.last?.hash
            events.append(RecordedAuditEvent(
                id: Int64(index + 1), at: at, event: event, previousHash: previous, hash: chain.hash(event, at: at, previous: previous)))
        }
        return events
    }

    /// Stored chains are verified for years: a change to what is hashed, or how, must fail here
    /// (the digests were computed outside Swift, with Python's hmac, from the canonical form below).
    @Test func theHashOfAnEventIsFixed() throws {
        let chain = AuditChain(key: SymmetricKey(data: (0..<32).map { UInt8($0) }))
        let event = AuditEvent(
            tenantID: try #require(UUID(uuidString: "11111111-2222-3333-4444-555555555555")), actor: "operator:alice",
            action: "tenant.update", target: "acme",
            detail: ["changes": ["name": ["before": "Acme", "after": "Acme Corp"]], "ratio": 0.25])
        let at = Date(timeIntervalSince1970: 1_800_000_000.123456)
        // {"action":"tenant.update","actor":"operator:alice","at":1800000000123456,"detail":{"changes":{"name":
        //  {"after":"Acme Corp","before":"Acme"}},"ratio":0.25},"outcome":"success","previous":"abab…ab",
        //  "target":"acme","tenant":"11111111-2222-3333-4444-555555555555"}
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(chain.hash(event, at: at, previous: [UInt8](repeating: 0xab, count: 32)))
            == "2b969d200b200685b48991915a96f07dd39c010444565520b64ddd1b348f7898")
        #expect(hex(chain.hash(event, at: at, previous: nil)) == "0028070649d6bd8d6b76e62816c0c2019eb9bb21f012223b884ed98b284fd9bc")
    }

    @Test func anIntactChainVerifies() {
        #expect(chain.verify(recorded(5)) == nil)
        #expect(chain.verify([]) == nil)
    }

    @Test func analteredFieldIsNamed() {
        var events = recorded(5)
        events[2].event.actor = "operator:mallory"
        #expect(chain.verify(events) == .altered(tenantID: tenant, id: 3))
        var detail = recorded(5)
        detail[3].event.detail = ["changes": [:]]
        #expect(chain.verify(detail) == .altered(tenantID: tenant, id: 4))
        var time = recorded(5)
        time[1].at = time[1].at.addingTimeInterval(0.000_001)
        #expect(chain.verify(time) == .altered(tenantID: tenant, id: 2))
    }

    @Test func aRemovedOrReorderedEventBreaksTheNextLink() {
        var removed = recorded(5)
        removed.remove(at: 2)
        #expect(chain.verify(removed) == .unlinked(tenantID: tenant, id: 4))
        var swapped = recorded(5)
        swapped.swapAt(1, 2)
        #expect(chain.verify(swapped) == .unlinked(tenantID: tenant, id: 3))
    }

    @Test func anotherKeyCannotForgeTheChain() {
        let forger = AuditChain(key: SymmetricKey(size: .bits256))
        var events = recorded(3)
        events[1].event.actor = "operator:mallory"
        events[1].hash = forger.hash(events[1].event, at: events[1].at, previous: events[1].previousHash)
        events[2].previousHash = events[1].hash
        events[2].hash = forger.hash(events[2].event, at: events[2].at, previous: events[2].previousHash)
        #expect(chain.verify(events) == .altered(tenantID: tenant, id: 2))
    }

    @Test func theHashDoesNotDependOnKeyOrderOrNumberSpelling() throws {
        let event = AuditEvent(tenantID: tenant, actor: "a", action: "b", detail: try #require(JSONValue.parse(Data(#"{"b": 1.0, "a": [2, 0.5]}"#.utf8))))
        let same = AuditEvent(tenantID: tenant, actor: "a", action: "b", detail: try #require(JSONValue.parse(Data(#"{"a":[2.0,0.50],"b":1}"#.utf8))))
        let at = AuditChain.timestamp()
        #expect(chain.hash(event, at: at, previous: nil) == chain.hash(same, at: at, previous: nil))
        #expect(AuditEvent.diff(before: ["x": 1, "y": 2], after: ["x": 1, "y": 3, "z": true]) == [
            "y": ["before": 2, "after": 3], "z": ["before": .null, "after": true],
        ])
    }
}
