// A change to a tenant's faces, as announced to every node on commit: ids and numbers, never a
// template.

import Foundation
import Tenancy
import WireFormats

public struct FaceChange: Sendable, Equatable, Codable {
    public enum Operation: String, Sendable, Codable {
        case add, remove, removePerson
    }

    /// The tenant.
    public var t: UUID
    /// Its number in the tenant's change counter.
    public var s: Int64
    public var op: Operation
    /// The face (add, remove).
    public var f: UUID?
    /// The person.
    public var p: String

    public init(tenant: UUID, number: Int64, operation: Operation, face: UUID?, person: String) {
        t = tenant
        s = number
        op = operation
        f = face
        p = person
    }

    var payload: String {
        var object: [String: JSONValue] = [
            "t": .string(t.uuidString.lowercased()), "s": .number(Double(s)), "op": .string(op.rawValue), "p": .string(p),
        ]
        if let f { object["f"] = .string(f.uuidString.lowercased()) }
        return JSONValue.object(object).canonical
    }

    static func parse(_ payload: String) -> FaceChange? {
        try? JSONDecoder().decode(FaceChange.self, from: Data(payload.utf8))
    }
}
