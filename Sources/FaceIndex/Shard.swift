// One tenant's faces in memory: contiguous unit vectors, searched exactly.

import Foundation
import Synchronization

/// The faces of one tenant, for 1:1 and 1:N search.
///
/// Concurrency is read-copy-update. Searches take the published `ShardSnapshot` (an O(1)
/// reference copy under a lock held only for that) and scan it with no lock at all. One writer
/// at a time (add, remove) prepares the next snapshot: appends go to rows no snapshot has shown;
/// a removal moves the last row into the hole, in a copy of the one segment it touches, since
/// readers may be scanning the original. So a search never waits for more than a pointer swap,
/// never sees a half-written row, and a writer never waits for a search.
public final class Shard: Sendable {
    public struct Options: Sendable, Equatable {
        /// Keep int8 codes beside the floats (+25% memory) for quantised search.
        public var quantized: Bool
        /// Rows per segment: what a removal copies, and the unit of parallel scans.
        public var segmentRows: Int

        public init(quantized: Bool = false, segmentRows: Int = 256) {
            self.quantized = quantized
            self.segmentRows = segmentRows
        }
    }

    public let dimension: Int
    public let options: Options
    let directory = PersonDirectory()
    private let published: Locked<ShardSnapshot>
    let writer: Locked<WriterState>
    private let publishedWrites = Atomic<Int>(0)

    /// State only the writer reads and writes.
    struct WriterState {
        var segments: [Segment] = []
        var count = 0
        var rowOfFace: [UUID: Int] = [:]
        var facesOfPerson: [UInt32: [UUID]] = [:]
        /// personsWithFaces[n]: how many persons have exactly n faces (n ≥ 1).
        var personsWithFaces: [Int] = [0]
    }

    public init(dimension: Int, options: Options = Options()) throws(FaceIndexError) {
        guard Embedding.dimensions.contains(dimension) else { throw .unsupportedDimension(dimension) }
        precondition(options.segmentRows >= 1)
        self.dimension = dimension
        self.options = options
        published = Locked(
            ShardSnapshot(
                segments: [], count: 0, dimension: dimension, segmentRows: options.segmentRows, maxFacesPerPerson: 0))
        writer = Locked(WriterState())
    }

    // MARK: Reading

    func snapshot() -> ShardSnapshot {
        published.withLock { $0 }
    }

    public var count: Int { snapshot().count }

    /// This shard, and how many writes it has published: a result computed at one generation is
    /// current while the shard is still at it (a shard loaded again is another).
    public var generation: Generation { Generation(shard: instance, writes: publishedWrites.load(ordering: .acquiring)) }

    public struct Generation: Sendable, Equatable {
        let shard: UUID
        let writes: Int
    }

    private let instance = UUID()

    /// A snapshot, its generation and, from the same moment, each person's number and rows in it.
    func personRows() -> (ShardSnapshot, Generation, [(person: UInt32, rows: [Int])]) {
        // Under the writer's lock: every publish (and its count) happens under it too.
        writer.withLock { state in
            (snapshot(), generation, state.facesOfPerson.map { ($0.key, $0.value.compactMap { state.rowOfFace[$0] }) })
        }
    }

    public func contains(face: UUID) -> Bool {
        writer.withLock { $0.rowOfFace[face] != nil }
    }

    /// Bytes held: the segments of the current snapshot, the face and person maps.
    public var memoryBytes: Int {
        let segments = snapshot().segments.reduce(0) { $0 + $1.byteCount }
        let maps = writer.withLock { state in
            // A Swift dictionary entry costs its key and value plus about as much again in slack.
            state.rowOfFace.count * 2 * (MemoryLayout<UUID>.stride + MemoryLayout<Int>.stride)
                + state.facesOfPerson.count * 64
        }
        return segments + maps + directory.byteCount
    }

    // MARK: Writing

    /// Adds a face; the embedding is checked and normalised.
    public func add(face: UUID, person: String, embedding: some Collection<Float>) throws(FaceIndexError) {
        let vector = try Embedding.normalized(embedding, dimension: dimension)
        try writer.withLock { state throws(FaceIndexError) in
            guard state.rowOfFace[face] == nil else { throw .duplicateFace(face) }
            // Under the writer's lock, so a removal of the person cannot release it in between.
            let number = directory.number(for: person)
            var touched: [Int] = []
            vector.withUnsafeBufferPointer {
                append(&state, face: face, person: number, vector: $0, remaining: 1, touched: &touched)
            }
            publish(state, touched: touched)
        }
    }

    /// A face to load in bulk.
    public struct Face: Sendable {
        public var id: UUID
        public var person: String
        public var embedding: [Float]

        public init(id: UUID, person: String, embedding: [Float]) {
            self.id = id
            self.person = person
            self.embedding = embedding
        }
    }

    /// Adds many faces, publishing once at the end: a search sees all of them or none.
    /// Nothing is added if any of them is invalid or already present.
    public func add(contentsOf faces: [Face]) throws(FaceIndexError) {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(faces.count)
        var seen = Set<UUID>()
        for face in faces {
            vectors.append(try Embedding.normalized(face.embedding, dimension: dimension))
            guard seen.insert(face.id).inserted else { throw .duplicateFace(face.id) }
        }
        try writer.withLock { state throws(FaceIndexError) in
            if let existing = faces.first(where: { state.rowOfFace[$0.id] != nil }) {
                throw .duplicateFace(existing.id)
            }
            let numbers = faces.map { directory.number(for: $0.person) }
            var touched: [Int] = []
            for index in faces.indices {
                vectors[index].withUnsafeBufferPointer {
                    append(
                        &state, face: faces[index].id, person: numbers[index], vector: $0,
                        remaining: faces.count - index, touched: &touched)
                }
            }
            publish(state, touched: touched)
        }
    }

    /// Removes a face; false when the shard does not hold it.
    @discardableResult
    public func remove(face: UUID) -> Bool {
        writer.withLock { state in
            var touched: [Int] = []
            guard let person = remove(&state, face: face, touched: &touched) else { return false }
            publish(state, touched: touched)
            // After the publish (no snapshot from now on shows the person's rows) and still under
            // the writer's lock (no add of the same person can take the number in between).
            if let person { directory.release(person) }
            return true
        }
    }

    /// Removes every face of a person; returns how many there were.
    @discardableResult
    public func remove(person: String) -> Int {
        writer.withLock { state in
            // Under the writer's lock: the number cannot be released and reused meanwhile.
            guard let number = directory.existingNumber(for: person) else { return 0 }
            let faces = state.facesOfPerson[number] ?? []
            var touched: [Int] = []
            for face in faces { _ = remove(&state, face: face, touched: &touched) }
            if !faces.isEmpty {
                publish(state, touched: touched)
                directory.release(person)
            }
            return faces.count
        }
    }

    /// Writes one row at the end. `remaining` counts the rows of this write still to come
    /// (this one included), so a bulk load sizes each segment once.
    private func append(
        _ state: inout WriterState, face: UUID, person: UInt32, vector: UnsafeBufferPointer<Float>, remaining: Int,
        touched: inout [Int]
    ) {
        let rowsPerSegment = options.segmentRows
        let row = state.count
        let index = row / rowsPerSegment
        let slot = row % rowsPerSegment
        if index == state.segments.count {
            let capacity = min(rowsPerSegment, max(4, remaining))
            state.segments.append(Segment(dimension: dimension, capacity: capacity, quantized: options.quantized))
        }
        var tail = state.segments[index]
        if slot >= tail.capacity {
            // Grow the tail by a tenth (at least 4 rows): amortised O(D) per add, and never
            // more than ~10% of the rows allocated but unused.
            let growth = max(slot + remaining, tail.capacity + max(4, tail.capacity / 10))
            let capacity = min(rowsPerSegment, growth)
            tail = tail.copy(rows: slot, capacity: capacity)
            state.segments[index] = tail
        } else if slot < tail.highWater {
            // A removal freed this row, but an older snapshot may still show it: copy.
            tail = tail.copy(rows: slot, capacity: tail.capacity)
            state.segments[index] = tail
        }
        tail.write(slot: slot, vector: vector, faceID: face, person: person)
        state.count += 1
        state.rowOfFace[face] = row
        let previous = state.facesOfPerson[person, default: []].count
        state.facesOfPerson[person, default: []].append(face)
        countPerson(&state, from: previous, to: previous + 1)
        if touched.last != index { touched.append(index) }
    }

    /// Removes the face's row; nil when the shard does not hold it, else the person's id when this
    /// was its last face (for the caller to release after publishing), or nil inside.
    private func remove(_ state: inout WriterState, face: UUID, touched: inout [Int]) -> String?? {
        guard let row = state.rowOfFace.removeValue(forKey: face) else { return nil }
        let rowsPerSegment = options.segmentRows
        let last = state.count - 1
        let source = state.segments[last / rowsPerSegment]
        let person = state.segments[row / rowsPerSegment].persons[row % rowsPerSegment]
        if row != last {
            let index = row / rowsPerSegment
            let original = state.segments[index]
            let visible = min(rowsPerSegment, state.count - index * rowsPerSegment)
            let copy = original.copy(rows: visible, capacity: original.capacity)
            copy.copyRow(last % rowsPerSegment, of: source, to: row % rowsPerSegment)
            state.segments[index] = copy
            state.rowOfFace[source.faceIDs[last % rowsPerSegment]] = row
            touched.append(index)
        }
        state.count -= 1
        if state.segments.count > (state.count + rowsPerSegment - 1) / rowsPerSegment {
            state.segments.removeLast()
        }
        var faces = state.facesOfPerson[person] ?? []
        faces.removeAll { $0 == face }
        countPerson(&state, from: faces.count + 1, to: faces.count)
        state.facesOfPerson[person] = faces.isEmpty ? nil : faces
        return .some(faces.isEmpty ? directory.names([person]).first : nil)
    }

    private func countPerson(_ state: inout WriterState, from old: Int, to new: Int) {
        if old > 0 { state.personsWithFaces[old] -= 1 }
        if new > 0 {
            while state.personsWithFaces.count <= new { state.personsWithFaces.append(0) }
            state.personsWithFaces[new] += 1
        }
        while state.personsWithFaces.count > 1, state.personsWithFaces.last == 0 {
            state.personsWithFaces.removeLast()
        }
    }

    /// Makes the writer's state the one searches see, then marks the rows now visible.
    func publish(_ state: WriterState, touched: [Int]) {
        let next = ShardSnapshot(
            segments: state.segments, count: state.count, dimension: dimension, segmentRows: options.segmentRows,
            maxFacesPerPerson: state.personsWithFaces.count - 1)
        let previous = published.withLock { current in
            let previous = current
            current = next
            return previous
        }
        _ = previous  // released here, outside the lock
        publishedWrites.add(1, ordering: .releasing)
        for index in Set(touched) where index < state.segments.count {
            let segment = state.segments[index]
            segment.highWater = max(segment.highWater, next.rows(inSegment: index))
        }
    }

    // MARK: Searching

    /// The `k` faces most similar to `query`, best first, with at least `minScore`. The scan
    /// spreads over every core, or at most `cores`.
    public func search(
        _ query: some Collection<Float>, k: Int, minScore: Float? = nil, mode: SearchMode = .auto, cores: Int? = nil
    ) throws(FaceIndexError) -> [Match] {
        let probe = try Embedding.normalized(query, dimension: dimension)
        return try directory.reading { () throws(FaceIndexError) -> [Match] in
            let snapshot = snapshot()
            let best = try probe.withUnsafeBufferPointer { probe throws(FaceIndexError) in
                try topK(snapshot, probe: probe, k: k, minimum: minScore ?? -.infinity, mode: mode, cores: cores)
            }
            return matches(best.sorted(), in: snapshot)
        }
    }

    /// The `k` persons most similar to `query`, each with its best face, best first (over every
    /// core, or at most `cores`).
    public func searchPersons(
        _ query: some Collection<Float>, k: Int, minScore: Float? = nil, mode: SearchMode = .auto, cores: Int? = nil
    ) throws(FaceIndexError) -> [PersonMatch] {
        let probe = try Embedding.normalized(query, dimension: dimension)
        let ranked = try directory.reading { () throws(FaceIndexError) -> [Match] in
            let snapshot = snapshot()
            // A person ranked k-th has at most (k-1)·m better rows before its best face, m being
            // the most faces any person has: k·m rows always hold the k best persons.
            let rows = k * max(1, snapshot.maxFacesPerPerson)
            let best = try probe.withUnsafeBufferPointer { probe throws(FaceIndexError) in
                try topK(snapshot, probe: probe, k: rows, minimum: minScore ?? -.infinity, mode: mode, cores: cores)
            }
            return matches(best.sorted(), in: snapshot)
        }
        var persons: [PersonMatch] = []
        var seen = Set<String>()
        for match in ranked where persons.count < k {
            if seen.insert(match.personID).inserted {
                persons.append(PersonMatch(personID: match.personID, faceID: match.faceID, score: match.score))
            }
        }
        return persons
    }

    /// Many queries at once through one matrix product per segment; same results as `search`.
    public func search(batch queries: [[Float]], k: Int, minScore: Float? = nil) throws(FaceIndexError) -> [[Match]] {
        guard !queries.isEmpty else { return [] }
        var packed: [Float] = []
        packed.reserveCapacity(queries.count * dimension)
        for query in queries { packed += try Embedding.normalized(query, dimension: dimension) }
        return directory.reading {
            let snapshot = snapshot()
            let best = packed.withUnsafeBufferPointer { queries in
                BatchScan.topK(snapshot, queries: queries, queryCount: queries.count / dimension, k: k, minimum: minScore ?? -.infinity)
            }
            return best.map { matches($0.sorted(), in: snapshot) }
        }
    }

    /// The best-scoring face of `person` for `query`, or nil when the shard has none of theirs.
    public func verify(_ query: some Collection<Float>, person: String) throws(FaceIndexError) -> Match? {
        let probe = try Embedding.normalized(query, dimension: dimension)
        return directory.reading { () -> Match? in
            // Rows and snapshot from one moment, so the rows are the person's in that snapshot.
            let (snapshot, rows) = writer.withLock { state -> (ShardSnapshot, [Int]) in
                guard let number = directory.existingNumber(for: person) else { return (self.snapshot(), []) }
                return (self.snapshot(), (state.facesOfPerson[number] ?? []).compactMap { state.rowOfFace[$0] })
            }
            guard !rows.isEmpty else { return nil }
            let scores = probe.withUnsafeBufferPointer { ExactScan.scores(snapshot, rows: rows, query: $0) }
            var best = TopK(k: 1)
            for (row, score) in zip(rows, scores) { best.insert(score: score, row: row) }
            return matches(best.sorted(), in: snapshot).first
        }
    }

    /// The scan `mode` resolves to for this shard as it is now.
    public func resolvedMode(_ mode: SearchMode) -> SearchMode {
        let snapshot = snapshot()
        switch mode {
        case .fp32, .int8: return mode
        case .auto:
            return snapshot.isQuantized && snapshot.count * dimension >= Self.quantizedScanMinimumFloats ? .int8 : .fp32
        }
    }

    /// Below ~2M floats (8 MB) a float scan is already quick; quantised search pays above.
    static let quantizedScanMinimumFloats = 1 << 21

    private func topK(
        _ snapshot: ShardSnapshot, probe: UnsafeBufferPointer<Float>, k: Int, minimum: Float, mode: SearchMode, cores: Int?
    ) throws(FaceIndexError) -> TopK {
        guard k > 0 else { return TopK(k: 0) }
        switch mode == .auto ? resolvedMode(.auto) : mode {
        case .int8:
            guard snapshot.isQuantized || snapshot.count == 0 else { throw .notQuantized }
            return QuantizedScan.topK(snapshot, query: probe, k: k, minimum: minimum, cores: cores).best
        default:
            return ExactScan.topK(snapshot, query: probe, k: k, minimum: minimum, cores: cores)
        }
    }

    private func matches(_ ranked: [(score: Float, row: Int)], in snapshot: ShardSnapshot) -> [Match] {
        let located = ranked.map { snapshot.locate($0.row) }
        let names = directory.names(located.map { $0.segment.persons[$0.slot] })
        return ranked.indices.map { index in
            Match(
                faceID: located[index].segment.faceIDs[located[index].slot], personID: names[index],
                score: ranked[index].score, row: ranked[index].row)
        }
    }
}
