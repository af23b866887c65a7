// int8 search with exact results: a cheap pass over the codes bounds every row's score; only
// rows whose upper bound reaches the k-th best lower bound are scored again in float.

enum QuantizedScan {
    struct Query {
        var codes: [Int8]
        var scale: Float
        var error: Float
    }

    static func quantize(_ query: UnsafeBufferPointer<Float>) -> Query {
        var codes = [Int8](repeating: 0, count: query.count)
        let quantized = codes.withUnsafeMutableBufferPointer { Int8Quantizer.quantize(query, into: $0.baseAddress!) }
        return Query(codes: codes, scale: quantized.scale, error: quantized.error)
    }

    /// The exact top k (as `ExactScan` would find it) and how many rows needed re-scoring.
    static func topK(
        _ snapshot: ShardSnapshot, query: UnsafeBufferPointer<Float>, k: Int, minimum: Float, cores: Int? = nil
    ) -> (best: TopK, rescored: Int) {
        guard k > 0, snapshot.count > 0 else { return (TopK(k: k), 0) }
        let quantizedQuery = quantize(query)
        let blocks = snapshot.blocks
        // Upper bounds of every row, written by the workers into disjoint ranges.
        let upper = UnsafeMutableBufferPointer<Float>.allocate(capacity: snapshot.count)
        defer { upper.deallocate() }
        let workers = ParallelScan.workers(forFloats: snapshot.count * snapshot.dimension / 4, cores: cores)
        let groups = ParallelScan.partition(blocks, rows: \.rows, workers: workers)
        let lowerBounds = quantizedQuery.codes.withUnsafeBufferPointer { codes in
            ParallelScan.map(groups.count, threads: workers) { group in
                var lower = TopK(k: k)
                let dots = UnsafeMutableBufferPointer<Int32>.allocate(capacity: snapshot.segmentRows)
                defer { dots.deallocate() }
                for block in groups[group] {
                    let segment = block.segment
                    DotKernel.dots(
                        codes: segment.codes!, count: block.rows, dimension: snapshot.dimension,
                        query: codes.baseAddress!, into: dots.baseAddress!)
                    for slot in 0..<block.rows {
                        let row = segment.quantization![slot]
                        let approximate = Float(dots[slot]) * (row.scale * quantizedQuery.scale)
                        let bound = row.error + row.norm * quantizedQuery.error + Int8Quantizer.roundingSlack
                        upper[block.firstRow + slot] = approximate + bound
                        let floor = approximate - bound
                        if floor >= lower.threshold { lower.insert(score: floor, row: block.firstRow + slot) }
                    }
                }
                return lower
            }
        }
        var lower = lowerBounds[0]
        for other in lowerBounds.dropFirst() { lower.merge(other) }
        // At least k rows score ≥ the k-th best lower bound, so every row of the exact top k
        // has an upper bound at or above it.
        let bar = max(lower.threshold, minimum)
        var candidates: [Int] = []
        for row in 0..<snapshot.count where upper[row] >= bar {
            candidates.append(row)
        }
        let exact = ExactScan.scores(snapshot, rows: candidates, query: query)
        var best = TopK(k: k)
        for (row, score) in zip(candidates, exact) where score >= minimum {
            best.insert(score: score, row: row)
        }
        return (best, candidates.count)
    }
}
