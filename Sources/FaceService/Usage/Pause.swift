// Waiting between rounds of background work without holding up a graceful shutdown.

import ServiceLifecycle

/// Sleeps for `interval`, or less if the service group begins to shut down or the task is
/// cancelled; returns whether the work should go on.
func pause(for interval: Duration) async -> Bool {
    try? await cancelWhenGracefulShutdown {
        try await Task.sleep(for: interval)
    }
    return !Task.isShuttingDownGracefully && !Task.isCancelled
}
