// A node's life, logged: started, serving at the address it really bound, stopping and why, stopped.

import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// Runs `app` until SIGTERM or SIGINT, then shuts it down gracefully (requests in flight are
/// answered, background work awaited). Each step is a log line an operator can find: "serving"
/// with the URL once the port is bound (the real port when 0 was asked for), "stopping" with the
/// signal, "stopped". A second signal, while a shutdown hangs, stops it at once. A port already in
/// use is a configuration error naming the port and the variable to change, not NIO's bare
/// "Address already in use".
public func serveUntilStopped<App: ApplicationProtocol>(
    _ configuration: EnfaceConfiguration, logger: Logger, build: (@escaping @Sendable (Int) async -> Void) async throws -> App
) async throws {
    // An IPv6 address is bracketed in a URL.
    let host = configuration.httpHost.contains(":") ? "[\(configuration.httpHost)]" : configuration.httpHost
    let app = try await build { port in
        logger.notice("serving", metadata: ["url": "http://\(host):\(port)", "pid": "\(getpid())"])
    }
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    do {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // The first signal begins a graceful shutdown; a second one (a server that does not
            // finish) stops it at once: the group is cancelled as this task throws.
            tasks.addTask {
                var received = 0
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    received += 1
                    if received > 1 {
                        logger.warning("stopping at once", metadata: ["reason": "a second \(signal) received"])
                        throw StoppedAtOnce(signal: "\(signal)")
                    }
                    logger.notice("stopping", metadata: ["reason": "\(signal) received"])
                    await group.triggerGracefulShutdown()
                }
            }
            // The server's end, graceful or not, ends the watch for signals.
            _ = try await tasks.next()
            tasks.cancelAll()
            try await tasks.waitForAll()
        }
    } catch let error as IOError where error.errnoCode == EADDRINUSE {
        throw ConfigurationError.invalid(
            variable: "ENFACE_HTTP_PORT",
            reason: "\(configuration.httpHost):\(configuration.httpPort) is already in use; stop what listens there or choose another port")
    }
    logger.notice("stopped")
}

/// A second SIGTERM or SIGINT during a graceful shutdown.
struct StoppedAtOnce: Error, CustomStringConvertible {
    let signal: String
    var description: String { "stopped at once by a second \(signal), before requests in flight were answered" }
}
