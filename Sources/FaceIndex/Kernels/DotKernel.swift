// The scoring kernels, seen from Swift: the C implementations (AVX2 + FMA when the CPU has
// them) and the plain reference they are tested against.

import CFaceKernels

public enum DotKernel {
    /// The kernel family in use on this CPU: "avx2-fma" or "portable".
    public static var name: String { String(cString: fk_kernel_name()) }

    /// scores[r] = <rows[r], query> for `count` rows of `dimension` floats.
    @inline(__always)
    static func scores(
        rows: UnsafePointer<Float>, count: Int, dimension: Int, query: UnsafePointer<Float>,
        into scores: UnsafeMutablePointer<Float>
    ) {
        fk_dot_rows_f32(rows, count, dimension, query, scores)
    }

    /// dots[r] = <codes[r], query>, exact in int32.
    @inline(__always)
    static func dots(
        codes: UnsafePointer<Int8>, count: Int, dimension: Int, query: UnsafePointer<Int8>,
        into dots: UnsafeMutablePointer<Int32>
    ) {
        fk_dot_rows_i8(codes, count, dimension, query, dots)
    }
}

/// The obviously-correct versions: one row at a time, accumulated in double.
enum ReferenceKernel {
    static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in dot(a, b) } }
    }

    static func dot(_ a: [Int8], _ b: [Int8]) -> Int32 {
        zip(a, b).reduce(0) { $0 + Int32($1.0) * Int32($1.1) }
    }
}
