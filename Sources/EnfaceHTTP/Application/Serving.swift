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
/// signal, "stopped". A port already in use is a configuration error naming the port and the
/// variable to change, not NIO's bare "Address already in use".
public func serveUntilStopped<App: ApplicationProtocol>(
    _ configuration: EnfaceConfiguration, logger: Logger, build: (@escaping @Sendable (Int) async -> Void) async throws -> App
) async throws {
    let app = try await build { port in
        logger.notice("serving", metadata: ["url": "http://\(configuration.httpHost):\(port)", "pid": "\(getpid())"])
    }
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    do {
        try await withThrowingTaskGroup(of: ServingEnd.self) { tasks in
            tasks.addTask {
                try await group.run()
                return .server
            }
            tasks.addTask {
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    logger.notice("stopping", metadata: ["reason": "\(signal) received"])
                    await group.triggerGracefulShutdown()
                    break
                }
                return .signal
            }
            // The server ending first (an error, or nothing left to serve) stops the watch for
            // signals; a signal first waits for the server's graceful end.
            if try await tasks.next() == .server { tasks.cancelAll() }
            try await tasks.waitForAll()
        }
    } catch let error as IOError where error.errnoCode == EADDRINUSE {
        throw ConfigurationError.invalid(
            variable: "ENFACE_HTTP_PORT",
            reason: "\(configuration.httpHost):\(configuration.httpPort) is already in use; stop what listens there or choose another port")
    }
    logger.notice("stopped")
}

/// What ended first: the server, or the wait for a signal.
private enum ServingEnd { case server, signal }
