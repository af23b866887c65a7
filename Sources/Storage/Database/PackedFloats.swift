// Many floats as one binary float4[], written and read in one pass: PostgresNIO's own [Float]
// coding handles each element on its own, which was a third of a bulk enroll's CPU (1,000
// templates of 512 floats a statement), and a shard load read its templates as text.

import NIOCore
import PostgresNIO

public struct PackedFloats: PostgresNonThrowingEncodable, PostgresDecodable, Sendable {
    public var values: [Float]

    public init(_ values: [Float]) {
        self.values = values
    }

    public static var psqlType: PostgresDataType { .float4Array }
    public static var psqlFormat: PostgresFormat { .binary }

    /// PostgreSQL's binary array: one dimension, no nulls, float4 elements, lower bound 1; then
    /// each element as its length (4) and its big-endian bits.
    public func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(1))
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(PostgresDataType.float4.rawValue)
        buffer.writeInteger(Int32(truncatingIfNeeded: values.count))
        buffer.writeInteger(Int32(1))
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: values.count * 8) { raw in
            var offset = 0
            for value in values {
                raw.storeBytes(of: UInt32(4).bigEndian, toByteOffset: offset, as: UInt32.self)
                raw.storeBytes(of: value.bitPattern.bigEndian, toByteOffset: offset + 4, as: UInt32.self)
                offset += 8
            }
            return offset
        }
    }
}

extension PackedFloats {
    /// A one-dimensional float4[] without nulls (an empty array has no dimensions), or a pgvector
    /// `vector` as it sends itself (its type's number differs from one database to another): its
    /// dimension (int16), a zero int16, then the floats, half the bytes of a float4[]. Anything
    /// else is refused, never trusted.
    public init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary else { throw PostgresDecodingError.Code.typeMismatch }
        if type != .float4Array {
            let floats = Self.withVectorFloats(buffer) { raw in
                (0..<raw.count / 4).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).bigEndian) }
            }
            guard let floats else { throw PostgresDecodingError.Code.typeMismatch }
            values = floats
            return
        }
        guard type == .float4Array,
              let (dimensions, _, element) = buffer.readMultipleIntegers(as: (Int32, Int32, UInt32).self),
              element == PostgresDataType.float4.rawValue
        else { throw PostgresDecodingError.Code.typeMismatch }
        if dimensions == 0 {
            values = []
            return
        }
        guard dimensions == 1, let (count, _) = buffer.readMultipleIntegers(as: (Int32, Int32).self), count >= 0,
              buffer.readableBytes == Int(count) * 8
        else { throw PostgresDecodingError.Code.failure }
        let floats = buffer.readWithUnsafeReadableBytes { raw -> (Int, [Float]?) in
            var floats = [Float](repeating: 0, count: Int(count))
            for index in 0..<Int(count) {
                guard raw.loadUnaligned(fromByteOffset: index * 8, as: UInt32.self).bigEndian == 4 else { return (0, nil) }
                floats[index] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: index * 8 + 4, as: UInt32.self).bigEndian)
            }
            return (Int(count) * 8, floats)
        }
        guard let floats else { throw PostgresDecodingError.Code.failure }
        values = floats
    }

    /// Calls `body` with the floats of a pgvector `vector` as it sends itself (big-endian, past
    /// its dimension and a zero int16), read in place; nil when `buffer` is not one.
    public static func withVectorFloats<Result>(_ buffer: ByteBuffer, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        var buffer = buffer
        guard let (dimension, unused) = buffer.readMultipleIntegers(as: (Int16, Int16).self), dimension > 0, unused == 0,
              buffer.readableBytes == Int(dimension) * 4
        else { return nil }
        return buffer.withUnsafeReadableBytes(body)
    }
}
