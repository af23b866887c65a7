// Plans: the default quotas of each, the most a tenant may set for itself, and which settings
// a tenant's own administrators may change. One table, mirrored in README.

public enum Plan: String, Sendable, Codable, CaseIterable {
    case starter, pro, enterprise

    public var defaultQuotas: Quotas {
        switch self {
        case .starter:
            Quotas(maxFaces: 10_000, requestsPerMinute: 600, requestsPerDay: 100_000, maxBodyBytes: 1 << 20, retentionDays: 30)
        case .pro:
            Quotas(maxFaces: 1_000_000, requestsPerMinute: 6_000, requestsPerDay: 5_000_000, maxBodyBytes: 8 << 20, retentionDays: 30)
        case .enterprise:
            Quotas(
                maxFaces: 100_000_000, requestsPerMinute: 60_000, requestsPerDay: 100_000_000, maxBodyBytes: 16 << 20,
                retentionDays: 90)
        }
    }

    /// Ceilings on what a tenant sets for itself (operators may go beyond them).
    public var selfServiceLimits: TenantSettings.Limits {
        switch self {
        case .starter: .init(maxFacesPerPerson: 5, searchLimitMax: 20)
        case .pro: .init(maxFacesPerPerson: 20, searchLimitMax: 100)
        case .enterprise: .init(maxFacesPerPerson: 100, searchLimitMax: 1_000)
        }
    }

    /// Settings a tenant's administrators may change themselves on this plan.
    public var selfServiceSettings: Set<String> {
        let base: Set = [
            "matchThreshold", "falseMatchRate", "falsePositiveIdentificationRate", "duplicateCheck", "maxFacesPerPerson", "searchLimitMax", "allowedOrigins", "minDetectionScore", "minFaceSize",
            "maxFacesPerPhoto",
        ]
        switch self {
        case .starter: return base
        case .pro: return base.union(["searchableTemplates"])
        case .enterprise: return base.union(["searchableTemplates", "features"])
        }
    }
}
