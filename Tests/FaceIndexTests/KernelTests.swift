// The C kernels against the plain reference, for dimensions that do and do not fill SIMD lanes.

import CFaceKernels
import TestSupport
import Testing

@testable import FaceIndex

@Suite struct KernelTests {
    static let dimensions = [1, 7, 8, 31, 32, 33, 64, 100, 127, 128, 129, 512, 513, 1000, 4096]

    @Test(arguments: dimensions)
    func floatKernelsMatchTheReference(_ dimension: Int) {
        var generator = SeededGenerator(seed: UInt64(dimension))
        let rows = (0..<9).map { _ in generator.vector(dimension) }
        let query = generator.vector(dimension)
        let flat = rows.flatMap { $0 }
        var dispatched = [Float](repeating: .nan, count: rows.count)
        var portable = [Float](repeating: .nan, count: rows.count)
        fk_dot_rows_f32(flat, rows.count, dimension, query, &dispatched)
        fk_dot_rows_f32_portable(flat, rows.count, dimension, query, &portable)
        for (index, row) in rows.enumerated() {
            let expected = ReferenceKernel.dot(row, query)
            // Unnormalised gaussians: scores grow like √D, so the tolerance scales with it.
            let tolerance = 1e-5 * max(1, Double(dimension).squareRoot() * 4)
            #expect(abs(Double(dispatched[index]) - expected) <= tolerance, "row \(index)")
            #expect(abs(Double(portable[index]) - expected) <= tolerance, "row \(index)")
        }
    }

    @Test(arguments: dimensions)
    func int8KernelsAreExact(_ dimension: Int) {
        var generator = SeededGenerator(seed: 7 &* UInt64(dimension))
        var rows = (0..<5).map { _ in (0..<dimension).map { _ in Int8.random(in: .min ... .max, using: &generator) } }
        rows.append([Int8](repeating: .min, count: dimension))  // the extremes cannot overflow
        rows.append([Int8](repeating: .max, count: dimension))
        let query = (0..<dimension).map { _ in Int8.random(in: .min ... .max, using: &generator) }
        let extremeQuery = [Int8](repeating: .min, count: dimension)
        for probe in [query, extremeQuery] {
            var dispatched = [Int32](repeating: 0, count: rows.count)
            var portable = [Int32](repeating: 0, count: rows.count)
            fk_dot_rows_i8(rows.flatMap { $0 }, rows.count, dimension, probe, &dispatched)
            fk_dot_rows_i8_portable(rows.flatMap { $0 }, rows.count, dimension, probe, &portable)
            #expect(dispatched == rows.map { ReferenceKernel.dot($0, probe) })
            #expect(portable == dispatched)
        }
    }

    @Test func theKernelInUseIsNamed() {
        #expect(["avx2-fma", "portable"].contains(DotKernel.name))
        #expect((DotKernel.name == "avx2-fma") == (fk_has_avx2_fma() == 1))
    }
}

@Suite struct QuantizerTests {
    @Test(arguments: [64, 100, 512, 4096])
    func theKernelQuantisesLikeTheReference(_ dimension: Int) throws {
        var generator = SeededGenerator(seed: UInt64(dimension) + 99)
        let vector = try Embedding.normalized(generator.vector(dimension), dimension: dimension)
        var fast = [Int8](repeating: 0, count: dimension)
        var slow = [Int8](repeating: 0, count: dimension)
        let (a, b) = vector.withUnsafeBufferPointer { vector in
            (fast.withUnsafeMutableBufferPointer { Int8Quantizer.quantize(vector, into: $0.baseAddress!) },
             slow.withUnsafeMutableBufferPointer { Int8Quantizer.referenceQuantize(vector, into: $0.baseAddress!) })
        }
        #expect(fast == slow)
        #expect(a.scale == b.scale)
        #expect(abs(a.error - b.error) <= 1e-6 && abs(a.norm - b.norm) <= 1e-6)
        // The bounds hold: the restored vector is within `error` of the original.
        let restored = fast.map { Double($0) * Double(a.scale) }
        let distance = zip(vector, restored).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }.squareRoot()
        #expect(distance <= Double(a.error))
        #expect(fast.contains(127) || fast.contains(-127))
    }
}
