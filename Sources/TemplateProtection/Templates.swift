// Below the tenant key: a key per person that seals each of the person's templates, and the
// tenant-keyed rotation that lets the database compare templates it cannot read.

import Crypto
import Foundation

/// A person's own key. Deleting the person's row destroys its only (wrapped) copy, and with it
/// every sealed template of the person, backups included.
public struct PersonKey: Sendable, CustomStringConvertible {
    let key: SymmetricKey

    public static func generate() -> PersonKey { PersonKey(key: SymmetricKey(size: .bits256)) }

    public var description: String { "PersonKey(redacted)" }

    /// AES-256-GCM of the template's little-endian float32 bytes, random nonce, AAD = tenant id ‖
    /// face id ‖ model: a sealed template moved to another face, tenant or model does not open.
    public func seal(_ template: [Float], tenantID: UUID, faceID: UUID, model: String) throws -> Data {
        let plain = Self.littleEndianBytes(template)
        let box = try AES.GCM.seal(plain, using: key, authenticating: Self.aad(tenantID: tenantID, faceID: faceID, model: model))
        return Data([Self.version]) + box.combined!
    }

    public func open(_ sealed: Data, tenantID: UUID, faceID: UUID, model: String) throws(KeyError) -> [Float] {
        guard sealed.first == Self.version, sealed.count > 1 + 12 + 16 else { throw .cannotUnwrap }
        let plain: Data
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            plain = try AES.GCM.open(box, using: key, authenticating: Self.aad(tenantID: tenantID, faceID: faceID, model: model))
        } catch {
            throw .cannotUnwrap
        }
        guard plain.count % 4 == 0 else { throw .cannotUnwrap }
        return plain.withUnsafeBytes { raw in
            (0..<plain.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    static let version: UInt8 = 1

    /// The floats' little-endian bytes: one copy on a little-endian machine, not a Data append a float.
    static func littleEndianBytes(_ values: [Float]) -> Data {
        #if _endian(little)
        return values.withUnsafeBytes { Data($0) }
        #else
        var plain = Data(capacity: values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { plain.append(contentsOf: $0) } }
        return plain
        #endif
    }

    static func aad(tenantID: UUID, faceID: UUID, model: String) -> Data {
        Data("enface/template/v1".utf8) + KeyWrap.owner(KeyWrap.bytes(tenantID), KeyWrap.bytes(faceID), Data(model.utf8))
    }
}

extension TenantKey {
    /// The person key wrapped for (tenant, person): it opens for that person of that tenant only.
    public func wrap(_ personKey: PersonKey, tenantID: UUID, personID: String) throws -> Data {
        try KeyWrap.wrap(personKey.key, with: key, context: "person-key/v1", owner: Self.owner(tenantID, personID))
    }

    public func unwrapPersonKey(_ wrapped: Data, tenantID: UUID, personID: String) throws(KeyError) -> PersonKey {
        PersonKey(key: try KeyWrap.unwrap(wrapped, with: key, context: "person-key/v1", owner: Self.owner(tenantID, personID)))
    }

    /// The tenant's rotation for templates of `dimension`.
    public func rotation(dimension: Int) -> TemplateRotation {
        TemplateRotation(key: key, dimension: dimension)
    }

    static func owner(_ tenantID: UUID, _ personID: String) -> Data {
        KeyWrap.owner(KeyWrap.bytes(tenantID), Data(personID.utf8))
    }
}

/// A randomised Hadamard rotation keyed by the tenant: x ↦ H·D₂·H·D₁·pad(x) / P, with D₁, D₂
/// diagonal ±1 matrices derived from the tenant key and P the next power of two. It is
/// orthogonal, so cosine similarities are exactly those of the original templates (to float
/// rounding), while the stored vectors are not the templates a model produced: without the
/// tenant key they cannot be matched against embeddings from elsewhere.
public struct TemplateRotation: Sendable {
    public let dimension: Int
    /// The rotated length: the next power of two ≥ `dimension`.
    public let outputDimension: Int
    let first: [Float]
    let second: [Float]

    init(key: SymmetricKey, dimension: Int) {
        self.dimension = dimension
        var size = 1
        while size < dimension { size <<= 1 }
        outputDimension = size
        let bytes = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Data("enface".utf8), info: Data("template-rotation/v1/\(size)".utf8),
            outputByteCount: max(32, size / 4)
        ).withUnsafeBytes { Array($0) }
        func signs(_ offset: Int) -> [Float] {
            (0..<size).map { index in
                let bit = offset + index
                return bytes[bit / 8] & (1 << (bit % 8)) == 0 ? 1 : -1
            }
        }
        first = signs(0)
        second = signs(size)
    }

    /// The rotated vector (length `outputDimension`).
    public func apply(_ vector: [Float]) -> [Float] {
        precondition(vector.count == dimension, "a template of the rotation's dimension")
        var values = [Float](repeating: 0, count: outputDimension)
        for index in 0..<dimension { values[index] = vector[index] * first[index] }
        Self.hadamard(&values)
        for index in 0..<outputDimension { values[index] *= second[index] }
        Self.hadamard(&values)
        let scale = 1 / Float(outputDimension)
        return values.map { $0 * scale }
    }

    /// In-place fast Walsh–Hadamard transform (unnormalised), O(P log P).
    static func hadamard(_ values: inout [Float]) {
        var span = 1
        while span < values.count {
            var start = 0
            while start < values.count {
                for index in start..<(start + span) {
                    let (a, b) = (values[index], values[index + span])
                    values[index] = a + b
                    values[index + span] = a - b
                }
                start += span * 2
            }
            span <<= 1
        }
    }
}
