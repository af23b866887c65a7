// Prometheus scrape endpoint. It names tenants, so it sits behind an operator token
// (Prometheus sends one with `authorization: credentials:`).

import Hummingbird
import NIOCore

struct MetricsController: Sendable {
    let metrics: EnfaceMetrics

    func addRoutes(to group: RouterGroup<EnfaceRequestContext>) {
        group.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await metrics.render())))
        }
    }
}
