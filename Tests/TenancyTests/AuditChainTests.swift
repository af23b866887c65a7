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
