// Many queries at once: one matrix product per segment (cblas_sgemm) instead of one pass over
// memory per query, then a bounded heap per query.

import CBLAS

enum BatchScan {
    static func topK(
        _ snapshot: ShardSnapshot, queries: UnsafeBufferPointer<Float>, queryCount: Int, k: Int, minimum: Float
    ) -> [TopK] {
        singleThreadedBLAS
        let dimension = snapshot.dimension
        let workers = ParallelScan.workers(forFloats: snapshot.count * dimension)
        let groups = ParallelScan.partition(snapshot.blocks, rows: \.rows, workers: workers)
        // Segments are split across cores here, one single-threaded product each: a 256-row
        // product is too small for OpenBLAS's own threads to pay for themselves.
        let partial = ParallelScan.map(groups.count, threads: workers) { group in
            var best = (0..<queryCount).map { _ in TopK(k: k) }
            let products = UnsafeMutableBufferPointer<Float>.allocate(capacity: queryCount * snapshot.segmentRows)
            defer { products.deallocate() }
            for block in groups[group] {
                // products (queryCount × rows) = queries (queryCount × D) · rowsᵀ (D × rows)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans,
                    Int32(queryCount), Int32(block.rows), Int32(dimension),
                    1, queries.baseAddress, Int32(dimension),
                    block.segment.vectors, Int32(dimension),
                    0, products.baseAddress, Int32(block.rows))
                for query in 0..<queryCount {
                    let scores = UnsafeBufferPointer(rebasing: products[(query * block.rows)..<((query + 1) * block.rows)])
                    best[query].insert(scores: scores, firstRow: block.firstRow, minimum: minimum)
                }
            }
            return best
        }
        var best = partial[0]
        for other in partial.dropFirst() {
            for query in 0..<queryCount { best[query].merge(other[query]) }
        }
        return best
    }

    /// OpenBLAS spawns its own threads per call by default; every product here is one
    /// segment's, split across cores by `ParallelScan`, so its threads would only contend.
    static let singleThreadedBLAS: Void = openblas_set_num_threads(1)
}
