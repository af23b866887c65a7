// How a node's shard catches up with its tenant's change log: a pure rule, tested by table.

import Storage

/// What to do with what the log says, given the last change a shard has applied.
enum ChangeRules {
    enum Plan: Equatable {
        /// Nothing new.
        case upToDate
        /// Apply these, in order: they follow the last applied one without a gap.
        case apply([FaceRepository.LoggedChange])
        /// The log cannot bring the shard up to date: load it afresh.
        case reload(String)
    }

    /// `applied`: the shard's last change. `current`: the tenant's counter, and `changes`: its log
    /// after `applied`, at most `limit`, both read at one moment.
    static func plan(applied: Int64, current: Int64, changes: [FaceRepository.LoggedChange], limit: Int) -> Plan {
        if current < applied { return .reload("the counter went back from \(applied) to \(current)") }
        if current == applied {
            return changes.isEmpty ? .upToDate : .reload("changes past the counter \(current)")
        }
        if changes.count >= limit { return .reload("more than \(limit - 1) changes behind") }
        var expected = applied + 1
        for change in changes {
            // A gap (trimmed from the log) or a repeat: the log is not a gapless sequence here.
            guard change.seq == expected else { return .reload("change \(expected) is not in the log") }
            expected += 1
        }
        guard expected - 1 == current else { return .reload("change \(expected) is not in the log") }
        return .apply(changes)
    }
}
