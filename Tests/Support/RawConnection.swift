// A TCP connection to a test server, byte for byte: for what an HTTP client library will not
// send (half a request, an oversized header) or will not show (a connection the server closes).

import Foundation

#if canImport(Glibc)
import Glibc
#endif

public final class RawConnection: @unchecked Sendable {
    // @unchecked: one test owns a connection and uses it from one task at a time.
    private let socket: Int32

    public init(port: Int, host: String = "127.0.0.1") throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestEnvironmentError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw TestEnvironmentError("connect() to \(host):\(port) failed: errno \(errno)")
        }
    }

    deinit { close(socket) }

    /// Sends `text` as it is; a write into a connection the peer closed fails quietly.
    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// Everything the server sends until it closes the connection or `timeout` passes; nil when
    /// it neither sent nor closed in that time.
    public func readUntilClosed(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let left = deadline - ContinuousClock.now
            let milliseconds = Int32(max(1, left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&descriptor, 1, milliseconds) > 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { return String(decoding: received, as: UTF8.self) }  // closed (or reset)
            received += buffer[0..<count]
        }
        return nil
    }
}
