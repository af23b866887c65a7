// One HTTP/1.1 request to a running `enface serve` (plain http, the operator's own host or
// network), a connection each: an operator's GET for what only a serving node holds (a
// tenant's in-memory shard), or a tenant's POST (`enface import`).

import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct ServerRequest: Sendable {
    let host: String
    let port: Int
    /// Sent as `Authorization: Bearer` with every request, when set.
    let token: String?
    /// How long a send or a read may stall before the request is given up.
    var timeoutSeconds = 30

    /// From `--url http://host:port` and the operator token in `ENFACE_OPERATOR_TOKEN`.
    init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let token = environment["ENFACE_OPERATOR_TOKEN"], !token.isEmpty else {
            throw CommandFailure("set ENFACE_OPERATOR_TOKEN to an operator token (enface operator token NAME makes one)")
        }
        try self.init(url: url, token: token)
    }

    /// From `--url http://host:port`, with `token` (or none).
    init(url: String, token: String?) throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host,
              !host.isEmpty, components.path.isEmpty || components.path == "/"
        else { throw ValidationError("--url must be http://host:port") }
        self.host = host
        self.port = components.port ?? 80
        self.token = token
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// GET `path` with the token; the server closes the connection after answering.
    func get(_ path: String) throws -> Reply {
        try send("GET", path)
    }

    /// `method` `path` with `headers` and `body`; the server closes the connection after answering.
    func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: Data = Data()) throws -> Reply {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let address = found else {
            throw CommandFailure("cannot resolve \(host)")
        }
        defer { freeaddrinfo(found) }
        let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard socket >= 0 else { throw CommandFailure("socket() failed") }
        defer { close(socket) }
        // A node that accepts and then says nothing is given up on, not waited for forever.
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            throw CommandFailure("nothing answers at http://\(host):\(port) (is enface serve running?)")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: application/json\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method != "GET" { head += "Content-Length: \(body.count)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + Array(body)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw CommandFailure("the server closed the connection") }
            sent += count
        }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return try Self.parse(received)
    }

    /// A whole response: status line, headers, and a body of Content-Length bytes (or the rest).
    static func parse(_ data: Data) throws -> Reply {
        guard let end = data.firstRange(of: Data("\r\n\r\n".utf8)) else { throw CommandFailure("no HTTP answer") }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        let statusLine = head.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw CommandFailure("no HTTP answer") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = data[end.upperBound...]
        if let length = headers["content-length"].flatMap(Int.init), length <= body.count { body = body.prefix(length) }
        return Reply(status: status, headers: headers, body: Data(body))
    }
}
