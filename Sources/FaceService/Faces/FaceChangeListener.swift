// Keeps this node's shards coherent with the database: LISTEN for every committed face change,
// apply it in order, and after a lost connection reconcile by each tenant's change counter.

import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

public struct FaceChangeListener: Service {
    let endpoint: DatabaseEndpoint
    let registry: FaceRegistry
    let logger: Logger

    public init(endpoint: DatabaseEndpoint, registry: FaceRegistry, logger: Logger) {
        self.endpoint = endpoint
        self.registry = registry
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown {
                    try await endpoint.withConnection(logger: logger) { connection in
                        let changes = try await connection.listen(FaceRepository.channel)
                        // Subscribed: whatever was missed before now is found by the counters.
                        await registry.reconcile()
                        for try await notification in changes {
                            guard let change = FaceChange.parse(notification.payload) else { continue }
                            await registry.apply(change, embedding: nil, announced: true)
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("face change listener lost its connection; reconnecting", metadata: ["error.type": "\(type(of: error))"])
            }
            guard await pause(for: .seconds(1)) else { return }
        }
    }
}
