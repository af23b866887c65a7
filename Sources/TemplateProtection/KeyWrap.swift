// Wrapping a key under another: AES-256-GCM with a version byte and an AAD naming what it is.

import Crypto
import Foundation

enum KeyWrap {
    static let version: UInt8 = 1

    /// version ‖ nonce ‖ ciphertext ‖ tag. AAD = "enface/<context>" ‖ the owner's identity, so a
    /// wrapped key only opens for the owner it was made for.
    static func wrap(_ secret: SymmetricKey, with key: SymmetricKey, context: String, owner: Data) throws -> Data {
        let sealed = try secret.withUnsafeBytes { bytes in
            try AES.GCM.seal(Data(bytes), using: key, authenticating: Data("enface/\(context)".utf8) + owner)
        }
        return Data([version]) + sealed.combined!
    }

    static func unwrap(_ wrapped: Data, with key: SymmetricKey, context: String, owner: Data) throws(KeyError) -> SymmetricKey {
        guard wrapped.first == version, wrapped.count == 1 + 12 + 32 + 16 else { throw .cannotUnwrap }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.dropFirst())
            return SymmetricKey(data: try AES.GCM.open(box, using: key, authenticating: Data("enface/\(context)".utf8) + owner))
        } catch {
            throw .cannotUnwrap
        }
    }

    /// A UUID's 16 bytes.
    static func bytes(_ id: UUID) -> Data { withUnsafeBytes(of: id.uuid) { Data($0) } }

    /// Length-prefixed parts, so that ("ab", "c") and ("a", "bc") never make the same AAD.
    static func owner(_ parts: Data...) -> Data {
        parts.reduce(into: Data()) { result, part in
            withUnsafeBytes(of: UInt32(part.count).bigEndian) { result.append(contentsOf: $0) }
            result.append(part)
        }
    }
}
