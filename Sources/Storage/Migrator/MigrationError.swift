// Why a migration run refused to go on.

public enum MigrationError: Error, Equatable, CustomStringConvertible {
    case unreadable(String)
    case badFileName(String)
    case duplicateVersion(Int)
    /// An applied migration's file no longer matches the checksum recorded when it ran.
    case changedAfterApply(version: Int, name: String, recorded: String, current: String)
    /// The database has a migration this binary does not know: it is older than the schema.
    case unknownApplied(version: Int, name: String)
    /// A migration's SQL failed; its transaction was rolled back.
    case failed(version: Int, name: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let what): "cannot read \(what)"
        case .badFileName(let file): "\(file): migration files are named NNNN_name.sql (lower-case name)"
        case .duplicateVersion(let version): "two migration files are numbered \(version)"
        case .changedAfterApply(let version, let name, let recorded, let current):
            "migration \(version)_\(name) was changed after it was applied (recorded sha256 \(recorded), file \(current)); "
                + "add a new migration instead of editing an applied one"
        case .unknownApplied(let version, let name):
            "the database has migration \(version)_\(name), which this binary does not know; run a newer enface"
        case .failed(let version, let name, let reason): "migration \(version)_\(name) failed: \(reason)"
        }
    }
}
