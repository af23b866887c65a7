// Keeps this node coherent with the others: LISTEN for change notices and hand each to whoever
// holds something of its tenant; after a lost connection, tell them all to refresh.

import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

public struct ChangeListener: Service {
    let endpoint: DatabaseEndpoint
    let notices: ChangeNotices
    let subscribers: [any ChangeSubscriber]
    let logger: Logger

    public init(endpoint: DatabaseEndpoint, notices: ChangeNotices, subscribers: [any ChangeSubscriber], logger: Logger) {
        self.endpoint = endpoint
        self.notices = notices
        self.subscribers = subscribers
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown {
                    try await endpoint.withConnection(logger: logger) { connection in
                        try await connection.listen(on: ChangeChannel.name) { notifications in
                            // Subscribed: whatever was missed before now is found by catching up.
                            for subscriber in subscribers { await subscriber.resubscribed() }
                            for try await notification in notifications {
                                guard let (tenant, kind) = notices.read(notification.payload) else { continue }
                                for subscriber in subscribers { await subscriber.tenantChanged(tenant, kind: kind) }
                            }
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("change listener lost its connection; reconnecting", metadata: ["error.type": "\(type(of: error))"])
                // Notices sent meanwhile are lost: nothing cached may be trusted until refreshed.
                for subscriber in subscribers { await subscriber.resubscribed() }
            }
            guard await pause(for: .seconds(1)) else { return }
        }
    }
}
