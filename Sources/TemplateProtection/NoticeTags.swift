// What a change notice says about its tenant: a keyed tag, not the tenant's id.

import Crypto
import Foundation

/// Any database login may LISTEN on the change channel, so a notice names no tenant: it carries
/// HMAC-SHA256(tenant id) under a key derived from the master key, cut to 128 bits. A node finds
/// the tenant among those it holds; a listener without the master key learns only that some
/// tenant changed, and a forged or replayed tag costs a node one read.
public struct NoticeTags: Sendable {
    let key: SymmetricKey

    public func tag(for tenant: UUID) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(tenant.uuidString.lowercased().utf8), using: key)
        return mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
