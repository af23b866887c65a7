// Person ids as small numbers: rows carry a UInt32, results carry the client's string.

/// Interns person ids, and gives a number back once its person has no face left, so a shard
/// whose persons come and go does not grow (10,000 enroll-and-delete cycles leave it as it was).
///
/// A search may still be scanning a snapshot that shows the person's rows when the person is
/// released, and must never name a different person for them: a released number is reused only
/// once every search that began before the release has finished (epochs, as in read-copy-update:
/// readers enter before they take a snapshot and leave after they have read names).
final class PersonDirectory: Sendable {
    private struct State {
        var numbers: [String: UInt32] = [:]
        var names: [String?] = []
        var bytes = 0
        /// Numbers ready for reuse.
        var free: [UInt32] = []
        /// Numbers released at an epoch, waiting for the readers of that epoch and before.
        var quarantined: [(number: UInt32, epoch: UInt64)] = []
        var epoch: UInt64 = 0
        /// Readers in progress, by the epoch they entered at.
        var readers: [UInt64: Int] = [:]

        /// Moves quarantined numbers that no reader can still see to the free list.
        mutating func reclaim() {
            let oldestReader = readers.keys.min() ?? .max
            // Released in epoch order: the safe ones are a prefix.
            let safe = quarantined.prefix { $0.epoch < oldestReader }.count
            for (number, _) in quarantined.prefix(safe) {
                if let name = names[Int(number)] { bytes -= Self.cost(name) }
                names[Int(number)] = nil
                free.append(number)
            }
            quarantined.removeFirst(safe)
        }

        static func cost(_ name: String) -> Int { name.utf8.count + 48 }
    }

    private let state = Locked(State())

    /// The person's number, assigned (or reused) when it has none.
    func number(for person: String) -> UInt32 {
        state.withLock { state in
            if let number = state.numbers[person] { return number }
            state.reclaim()
            let number: UInt32
            if let reused = state.free.popLast() {
                number = reused
                state.names[Int(number)] = person
            } else {
                number = UInt32(state.names.count)
                state.names.append(person)
            }
            state.numbers[person] = number
            state.bytes += State.cost(person)
            return number
        }
    }

    func existingNumber(for person: String) -> UInt32? {
        state.withLock { $0.numbers[person] }
    }

    /// The person has no face left in any snapshot published from now on: forget it, and reuse
    /// its number once no search that began before can still read it. A person added again
    /// meanwhile gets a new number.
    func release(_ person: String) {
        state.withLock { state in
            guard let number = state.numbers.removeValue(forKey: person) else { return }
            state.quarantined.append((number, state.epoch))
            state.epoch += 1
        }
    }

    /// Runs `body` as a reader: numbers it reads from a snapshot taken inside keep their names.
    func reading<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let epoch = state.withLock { state in
            state.readers[state.epoch, default: 0] += 1
            return state.epoch
        }
        defer {
            state.withLock { state in
                state.readers[epoch, default: 1] -= 1
                if state.readers[epoch] == 0 { state.readers[epoch] = nil }
            }
        }
        return try body()
    }

    func names(_ numbers: [UInt32]) -> [String] {
        state.withLock { state in numbers.map { state.names[Int($0)] ?? "" } }
    }

    var byteCount: Int { state.withLock { $0.bytes } }

    /// Persons with a number: live ones and those waiting for reuse.
    var count: Int { state.withLock { $0.names.count } }
}
