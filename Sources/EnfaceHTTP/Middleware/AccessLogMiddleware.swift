// One log line per request: route template, status and duration. Never bodies, headers or
// query strings, which carry keys and biometric data.

import Hummingbird
import Logging

struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = EnfaceRequestContext

    let metrics: EnfaceMetrics

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
        // The matched template (/v1/persons/{personId}), not the path: ids stay out of logs.
        let route = context.endpointPath ?? "unmatched"
        var metadata: Logger.Metadata = [
            "http.method": "\(request.method.rawValue)",
            "http.route": "\(route)",
            "http.status": "\(response.status.code)",
            "duration_ms": "\((milliseconds * 100).rounded() / 100)",
        ]
        if let tenant = context.notes.tenantID { metadata["tenant"] = "\(tenant)" }
        context.logger.info("request", metadata: metadata)
        metrics.request(
            route: route, method: request.method.rawValue, status: Int(response.status.code), tenant: context.notes.tenantSlug,
            duration: elapsed)
        return response
    }
}
