// What inner middleware learns about a request and outer middleware reports: contexts are
// values passed inward, so this one reference is shared by every copy.

import Synchronization

final class RequestNotes: Sendable {
    private let state = Mutex<(tenant: String?, tenantID: String?)>((nil, nil))

    func noteTenant(slug: String, id: String) { state.withLock { $0 = (slug, id) } }
    var tenantSlug: String? { state.withLock { $0.tenant } }
    var tenantID: String? { state.withLock { $0.tenantID } }
}
