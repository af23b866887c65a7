// Person ids as small numbers: rows carry a UInt32, results carry the client's string.

import Synchronization

/// Interns person ids. Numbers are never reused, not even after a person's last face is gone:
/// a search still running on an older snapshot must never name a different person. (The few
/// bytes of a forgotten id are reclaimed when the shard is rebuilt.)
final class PersonDirectory: Sendable {
    private struct State {
        var numbers: [String: UInt32] = [:]
        var names: [String] = []
        var bytes = 0
    }

    private let state = Mutex(State())

    func number(for person: String) -> UInt32 {
        state.withLock { state in
            if let number = state.numbers[person] { return number }
            let number = UInt32(state.names.count)
            state.numbers[person] = number
            state.names.append(person)
            state.bytes += person.utf8.count + 48
            return number
        }
    }

    func existingNumber(for person: String) -> UInt32? {
        state.withLock { $0.numbers[person] }
    }

    func name(_ number: UInt32) -> String {
        state.withLock { $0.names[Int(number)] }
    }

    func names(_ numbers: [UInt32]) -> [String] {
        state.withLock { state in numbers.map { state.names[Int($0)] } }
    }

    var byteCount: Int { state.withLock { $0.bytes } }
}
