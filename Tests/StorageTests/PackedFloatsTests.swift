// Templates in binary: a float4[] written in one pass and cast to a vector by pgvector, read
// back as pgvector sends a vector, bit for bit; and malformed bytes refused, never trusted.

import Foundation
import NIOCore
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct PackedFloatsTests {
    static let values: [Float] = [0, 1, -1, 0.1, -0.333_333_34, 1e-30, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -123_456.79]

    @Test func floatsGoToPostgreSQLAndComeBackExactlyAsAnArrayAndAsAVector() async throws {
        let database = try ScratchDatabase.required()
        try await database.withPool(.app) { app in
            let rows = try await app.query(
                "SELECT \(PackedFloats(Self.values))::real[], \(PackedFloats(Self.values))::real[]::vector, \(PackedFloats([]))::real[]")
            let (array, vector, empty) = try #require(rows.first).decode((PackedFloats, PackedFloats, PackedFloats).self)
            #expect(array.values.map(\.bitPattern) == Self.values.map(\.bitPattern))
            #expect(vector.values.map(\.bitPattern) == Self.values.map(\.bitPattern))
            #expect(empty.values.isEmpty)
        }
    }

    @Test func malformedBytesAreRefused() {
        func decode(_ bytes: [UInt8], type: PostgresDataType) -> PackedFloats? {
            var buffer = ByteBuffer(bytes: bytes)
            return try? PackedFloats(from: &buffer, type: type, format: .binary, context: .default)
        }
        let vectorType = PostgresDataType(16_385)
        // A vector of 2 floats, then one of 2 that brings 3, one with a nonzero pad, a zero length.
        #expect(decode([0, 2, 0, 0] + [63, 128, 0, 0] + [64, 0, 0, 0], type: vectorType)?.values == [1, 2])
        #expect(decode([0, 2, 0, 0] + Array(repeating: 0, count: 12), type: vectorType) == nil)
        #expect(decode([0, 1, 0, 1] + [63, 128, 0, 0], type: vectorType) == nil)
        #expect(decode([0, 0, 0, 0], type: vectorType) == nil)
        // A float4[] whose element says 8 bytes, one of int4 elements, one of two dimensions.
        let header: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 188, 0, 0, 0, 1, 0, 0, 0, 1]
        #expect(decode(header + [0, 0, 0, 4, 63, 128, 0, 0], type: .float4Array)?.values == [1])
        #expect(decode(header + [0, 0, 0, 8, 63, 128, 0, 0], type: .float4Array) == nil)
        #expect(decode([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1], type: .float4Array) == nil)
        #expect(decode([0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 188, 0, 0, 0, 1, 0, 0, 0, 1], type: .float4Array) == nil)
    }
}
