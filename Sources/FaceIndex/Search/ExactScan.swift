// fp32 search: every visible row scored with the SIMD kernel, the best kept in a bounded heap.

enum ExactScan {
    static func topK(
        _ snapshot: ShardSnapshot, query: UnsafeBufferPointer<Float>, k: Int, minimum: Float, cores: Int? = nil
    ) -> TopK {
        let blocks = snapshot.blocks
        let workers = ParallelScan.workers(forFloats: snapshot.count * snapshot.dimension, cores: cores)
        let groups = ParallelScan.partition(blocks, rows: \.rows, workers: workers)
        let partial = ParallelScan.map(groups.count, threads: workers) { group in
            var best = TopK(k: k)
            let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: snapshot.segmentRows)
            defer { scratch.deallocate() }
            for block in groups[group] {
                DotKernel.scores(
                    rows: block.segment.vectors, count: block.rows, dimension: snapshot.dimension,
                    query: query.baseAddress!, into: scratch.baseAddress!)
                best.insert(
                    scores: UnsafeBufferPointer(rebasing: scratch[0..<block.rows]), firstRow: block.firstRow,
                    minimum: minimum)
            }
            return best
        }
        var best = partial[0]
        for other in partial.dropFirst() { best.merge(other) }
        return best
    }

    /// Exact scores of chosen rows (re-ranking, verification).
    static func scores(_ snapshot: ShardSnapshot, rows: [Int], query: UnsafeBufferPointer<Float>) -> [Float] {
        rows.map { row in
            let (segment, slot) = snapshot.locate(row)
            var score: Float = 0
            DotKernel.scores(
                rows: segment.vectors + slot * snapshot.dimension, count: 1, dimension: snapshot.dimension,
                query: query.baseAddress!, into: &score)
            return score
        }
    }
}
