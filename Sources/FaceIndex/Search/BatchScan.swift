// Many queries at once: one matrix product per segment (cblas_sgemm) instead of one pass over
// memory per query, then a bounded heap per query.

import CBLAS

enum BatchScan {
    static func topK(
        _ snapshot: ShardSnapshot, queries: UnsafeBufferPointer<Float>, queryCount: Int, k: Int, minimum: Float
    ) -> [TopK] {
        var best = (0..<queryCount).map { _ in TopK(k: k) }
        let dimension = snapshot.dimension
        let products = UnsafeMutableBufferPointer<Float>.allocate(capacity: queryCount * snapshot.segmentRows)
        defer { products.deallocate() }
        for block in snapshot.blocks {
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
}
