// A client's `Idempotency-Key`: an enroll sent twice with one key enrolls once, and the second
// sending gets the first answer, stored in the transaction that enrolled.

import Crypto
import Foundation
import Storage
import WireFormats

/// A request's key and what identifies it, with how its answer is written down.
public struct Idempotency<Outcome>: Sendable {
    public var key: String
    /// SHA-256 over the credential, method, path and body: the key is refused for any other request.
    public var fingerprint: Data
    /// The answer as the client receives it, stored with the key before the enroll commits.
    public var render: @Sendable (Outcome) throws -> StoredAnswer

    public init(key: String, fingerprint: Data, render: @escaping @Sendable (Outcome) throws -> StoredAnswer) {
        self.key = key
        self.fingerprint = fingerprint
        self.render = render
    }

    /// 1–255 printable ASCII characters, as the key's field allows.
    public static func isValidKey(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The fingerprint of a request: who sent it, where, and what.
    public static func fingerprint(actor: String, method: String, path: String, body: some Sequence<UInt8>) -> Data {
        var hash = SHA256()
        hash.update(data: Data("\(actor)\n\(method) \(path)\n".utf8))
        hash.update(data: Data(body))
        return Data(hash.finalize())
    }

    /// The fingerprint of a form by what it carries: its fields in canonical JSON and each file's
    /// name and SHA-256, in name order (its boundary, new at every sending, is left out).
    public static func fingerprint(actor: String, method: String, path: String, form: [String: JSONValue], files: [String: [UInt8]]) -> Data {
        var carried = Data(JSONValue.object(form).canonical.utf8)
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            carried += Data("\n\(name)\n".utf8) + Data(SHA256.hash(data: bytes))
        }
        return fingerprint(actor: actor, method: method, path: path, body: carried)
    }
}

/// An answer as it went out: its status and JSON body.
public struct StoredAnswer: Sendable, Equatable {
    public var status: Int
    public var body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }
}

/// A use case's outcome, or the answer a retry of it gets.
public enum Answered<Outcome: Sendable>: Sendable {
    case fresh(Outcome)
    case replayed(StoredAnswer)
}

extension FaceRegistry {
    /// The stored answer to `idempotency`'s key, if it has one: a retry answered before any work
    /// (the claim in the enroll's transaction settles a race). Nil when there is none yet.
    public func storedAnswer<Outcome>(_ idempotency: Idempotency<Outcome>?, tenant: UUID) async throws -> StoredAnswer? {
        guard let idempotency else { return nil }
        return try await app.withTenant(tenant) { transaction in
            try await Self.replay(idempotency, claim: IdempotencyRepository.peek(idempotency.key, fingerprint: idempotency.fingerprint, in: transaction))
        }
    }

    /// Claims the key in the enroll's transaction: nil when this request does the work.
    static func claim<Outcome>(_ idempotency: Idempotency<Outcome>?, in transaction: TenantTransaction) async throws -> StoredAnswer? {
        guard let idempotency else { return nil }
        return try replay(idempotency, claim: try await IdempotencyRepository.claim(idempotency.key, fingerprint: idempotency.fingerprint, in: transaction))
    }

    /// Stores the answer with the key, last in the enroll's transaction.
    static func remember<Outcome>(_ outcome: Outcome, _ idempotency: Idempotency<Outcome>?, in transaction: TenantTransaction) async throws {
        guard let idempotency else { return }
        let answer = try idempotency.render(outcome)
        try await IdempotencyRepository.answer(idempotency.key, status: answer.status, body: answer.body, in: transaction)
    }

    private static func replay<Outcome>(_ idempotency: Idempotency<Outcome>, claim: IdempotencyRepository.Claim?) throws -> StoredAnswer? {
        switch claim {
        case nil, .claimed?: return nil
        case .answered(let status, let body)?: return StoredAnswer(status: status, body: body)
        case .mismatch?: throw FaceError.idempotencyKeyReused
        }
    }
}
