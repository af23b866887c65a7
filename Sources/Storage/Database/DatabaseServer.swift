// Which PostgreSQL Enface uses: the embedded one under the data directory, or an external one.

/// The database server and how each role reaches it.
public enum DatabaseServer: Sendable {
    /// The wheel's PostgreSQL, run and bootstrapped by Enface itself.
    case embedded(EmbeddedPostgres)
    /// A server someone else runs, with pgvector ≥ 0.8 and the three roles created (README).
    /// The owner endpoint is only needed to migrate: serving nodes run without it.
    case external(owner: DatabaseEndpoint?, app: DatabaseEndpoint, admin: DatabaseEndpoint)

    public func endpoint(for role: DatabaseRole) throws -> DatabaseEndpoint {
        switch self {
        case .embedded(let postgres):
            return try postgres.endpoint(for: role)
        case .external(let owner, let app, let admin):
            switch role {
            case .owner:
                guard let owner else {
                    throw StorageError.missingConfiguration(
                        "ENFACE_DATABASE_URL (the schema owner) is needed to migrate; serving nodes need only the app and admin URLs")
                }
                return owner
            case .app: return app
            case .admin: return admin
            }
        }
    }
}
