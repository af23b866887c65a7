// What a credential may do.

public enum Scope: String, Sendable, Codable, CaseIterable, Comparable {
    case facesRead = "faces:read"
    case facesWrite = "faces:write"
    case verify
    case search
    case tenantAdmin = "tenant:admin"

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Parses scope names; unknown names are returned separately so callers can refuse them.
    public static func parse(_ names: some Sequence<String>) -> (scopes: Set<Scope>, unknown: [String]) {
        var scopes = Set<Scope>()
        var unknown: [String] = []
        for name in names {
            if let scope = Scope(rawValue: name) { scopes.insert(scope) } else { unknown.append(name) }
        }
        return (scopes, unknown)
    }
}
