// Why a tenancy use case refused: one case per answer the API gives.

import Foundation
import Tenancy
import WireFormats

public enum TenancyError: Error, Equatable, Sendable {
    /// No such tenant (or key) — also what another tenant's id looks like.
    case tenantNotFound
    case keyNotFound
    case slugTaken(String)
    case invalidTransition(LifecycleError)
    /// The tenant is deleted: nothing about it may change but its purge.
    case tenantDeleted
    case invalid(ValidationFailure)
    /// A key may not grant scopes its creator lacks.
    case scopesNotGrantable([Scope])
}
