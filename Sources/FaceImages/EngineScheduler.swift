// Who gets the next face engine: fairness between clients (tenants), as a pure value.

/// Engines are shared by every client, and a photo holds one for up to a few hundred
/// milliseconds, so the order matters more than the speed:
/// - waiting photos are served round-robin by client, not first come first served, so one
///   client's backlog never stands in front of another's photo;
/// - while more than one client has sent photos lately (within `recentWindow`), no client holds
///   every engine: one stays free for the others (with one engine, there is nothing to keep);
/// - each client may have at most `perClientQueue` photos waiting, and all together `queueLimit`:
///   past either, the photo is refused at once (503), never queued without bound.
struct EngineScheduler<Client: Hashable, Waiter> {
    let engines: Int
    let queueLimit: Int
    let perClientQueue: Int
    let recentWindow: Duration

    private(set) var free: [Int]
    private var holding: [Client: Int] = [:]
    private var queues: [Client: [Waiter]] = [:]
    /// Clients with waiters, in the order they are served.
    private var turn: [Client] = []
    private var lastSeen: [Client: ContinuousClock.Instant] = [:]

    init(engines: Int, queueLimit: Int, perClientQueue: Int, recentWindow: Duration = .seconds(2)) {
        self.engines = engines
        self.queueLimit = queueLimit
        self.perClientQueue = perClientQueue
        self.recentWindow = recentWindow
        free = Array((0..<engines).reversed())
    }

    var waiting: Int { queues.values.reduce(0) { $0 + $1.count } }

    /// A photo of `client` arrives: it runs on a free engine, waits, or is refused.
    mutating func arrive(_ client: Client, waiter: Waiter, now: ContinuousClock.Instant) -> (engine: Int?, accepted: Bool) {
        lastSeen[client] = now
        forgetQuiet(now: now)
        if queues[client, default: []].isEmpty, let engine = take(for: client, now: now) {
            return (engine, true)
        }
        guard waiting < queueLimit, queues[client, default: []].count < perClientQueue else { return (nil, false) }
        if queues[client, default: []].isEmpty { turn.append(client) }
        queues[client, default: []].append(waiter)
        return (nil, true)
    }

    /// `engine` is done with `client`'s photo: the next waiter in turn that may run gets it.
    mutating func release(_ engine: Int, from client: Client, now: ContinuousClock.Instant) -> (waiter: Waiter, engine: Int)? {
        holding[client, default: 1] -= 1
        if holding[client] == 0 { holding[client] = nil }
        free.append(engine)
        return next(now: now)
    }

    /// The first client in turn whose share allows another engine gets one.
    private mutating func next(now: ContinuousClock.Instant) -> (waiter: Waiter, engine: Int)? {
        for (position, client) in turn.enumerated() {
            guard let engine = take(for: client, now: now) else { continue }
            var queue = queues[client] ?? []
            let waiter = queue.removeFirst()
            turn.remove(at: position)
            if queue.isEmpty { queues[client] = nil } else {
                queues[client] = queue
                turn.append(client)  // its next photo waits for the others' turns
            }
            return (waiter, engine)
        }
        return nil
    }

    /// A free engine for `client`, unless it would then hold every engine while another client
    /// is around.
    private mutating func take(for client: Client, now: ContinuousClock.Instant) -> Int? {
        guard !free.isEmpty else { return nil }
        let others = lastSeen.contains { $0.key != client && now - $0.value < recentWindow } || turn.contains { $0 != client }
        if engines > 1, others, holding[client, default: 0] >= engines - 1 { return nil }
        holding[client, default: 0] += 1
        return free.removeLast()
    }

    /// Clients not seen for a while hold no claim: their marks go.
    private mutating func forgetQuiet(now: ContinuousClock.Instant) {
        guard lastSeen.count > 64 else { return }
        lastSeen = lastSeen.filter { now - $0.value < recentWindow || holding[$0.key] != nil || queues[$0.key] != nil }
    }
}
