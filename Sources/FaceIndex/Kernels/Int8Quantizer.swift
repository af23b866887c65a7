// Symmetric per-vector int8 quantisation, with the bound that makes quantised search exact.

/// A vector `x` is stored as codes `c` and a scale `s` with x̂ = s·c, |c_i| ≤ 127. For a query
/// q̃ = s_q·ĉ_q the approximate score x̂·q̃ differs from x·q by at most
/// ‖x − x̂‖ + ‖x̂‖·‖q − q̃‖ (Cauchy–Schwarz, ‖q‖ = 1). Keeping every row whose upper bound can
/// reach the k-th best lower bound, then re-scoring those in float, returns the exact top-k.
import CFaceKernels

enum Int8Quantizer {
    struct Quantized {
        var scale: Float
        /// ‖x − x̂‖, rounded up.
        var error: Float
        /// ‖x̂‖, rounded up.
        var norm: Float
    }

    /// Writes the codes of `vector` (unit length) to `codes` and returns its scale and bounds.
    static func quantize(_ vector: UnsafeBufferPointer<Float>, into codes: UnsafeMutablePointer<Int8>) -> Quantized {
        var quantized = Quantized(scale: 0, error: 0, norm: 0)
        fk_quantize_i8(vector.baseAddress!, vector.count, codes, &quantized.scale, &quantized.error, &quantized.norm)
        return quantized
    }

    /// The plain version the kernel is tested against.
    static func referenceQuantize(_ vector: UnsafeBufferPointer<Float>, into codes: UnsafeMutablePointer<Int8>) -> Quantized {
        var largest: Float = 0
        for value in vector { largest = max(largest, abs(value)) }
        let scale = largest > 0 ? largest / 127 : 1
        let inverse = 1 / scale
        var errorSquares = 0.0
        var normSquares = 0.0
        for (index, value) in vector.enumerated() {
            let code = Int8(clamping: Int((value * inverse).rounded(.toNearestOrEven)))
            codes[index] = code
            let restored = Double(scale) * Double(code)
            errorSquares += (Double(value) - restored) * (Double(value) - restored)
            normSquares += restored * restored
        }
        return Quantized(
            scale: scale, error: Float(errorSquares.squareRoot()).nextUp, norm: Float(normSquares.squareRoot()).nextUp)
    }

    /// Slack for float rounding in the approximate and exact scores (far above the ~1e-6 seen).
    static let roundingSlack: Float = 1e-4
}
