// Many floats as one binary float4[] parameter, written in one pass: PostgresNIO's own [Float]
// encoding writes each element into the buffer on its own, which was a third of a bulk
// enroll's CPU (1,000 templates of 512 floats a statement).

import NIOCore
import PostgresNIO

public struct PackedFloats: PostgresNonThrowingEncodable, Sendable {
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
