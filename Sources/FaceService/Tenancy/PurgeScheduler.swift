// Purges deleted tenants once their grace period is over, in the background of `enface serve`.

import Logging
import ServiceLifecycle

public struct PurgeScheduler: Service {
    let administration: TenantAdministration
    let interval: Duration
    let logger: Logger

    public init(administration: TenantAdministration, interval: Duration = .seconds(3600), logger: Logger) {
        self.administration = administration
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        repeat {
            do {
                // A purge is one transaction per tenant: abandoning it at shutdown rolls it back,
                // and the next start picks it up again.
                let purged = try await cancelWhenGracefulShutdown {
                    try await administration.purgeDue(by: "system")
                }
                if !purged.isEmpty { logger.notice("purged deleted tenants", metadata: ["count": "\(purged.count)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.error("purge failed; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        } while await pause(for: interval)
    }
}
