// Wrapping a key under another: AES-256-GCM with a version byte and an AAD naming what it is.

import Crypto
import Foundation

enum KeyWrap {
    static let version: UInt8 = 1

    /// version ‖ nonce ‖ ciphertext ‖ tag. AAD = "enface/<context>" ‖ the owner's id, so a
    /// wrapped key only opens for the owner it was made for.
    static func wrap(_ secret: SymmetricKey, with key: SymmetricKey, context: String, id: UUID) throws -> Data {
        let sealed = try secret.withUnsafeBytes { bytes in
            try AES.GCM.seal(Data(bytes), using: key, authenticating: aad(context: context, id: id))
        }
        return Data([version]) + sealed.combined!
    }

    static func unwrap(_ wrapped: Data, with key: SymmetricKey, context: String, id: UUID) throws(KeyError) -> SymmetricKey {
        guard wrapped.first == version, wrapped.count == 1 + 12 + 32 + 16 else { throw .cannotUnwrap }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.dropFirst())
            return SymmetricKey(data: try AES.GCM.open(box, using: key, authenticating: aad(context: context, id: id)))
        } catch {
            throw .cannotUnwrap
        }
    }

    static func aad(context: String, id: UUID) -> Data {
        Data("enface/\(context)".utf8) + withUnsafeBytes(of: id.uuid) { Data($0) }
    }
}
