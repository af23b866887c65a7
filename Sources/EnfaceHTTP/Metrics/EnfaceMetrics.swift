// Prometheus metrics of one application: its own registry (no global bootstrap), labels kept
// to a bounded set so a flood of tenants or paths cannot explode the series count.

import CProcessMemory
import Foundation
import Prometheus
import Synchronization

public final class EnfaceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let tenantLabels = Mutex<Set<String>>([])

    /// Tenants beyond this many are counted as `other`.
    static let maximumTenantLabels = 1_000

    public init() {}

    /// `enface_http_requests_total{route,method,status,tenant}`: route is the matched template.
    func request(route: String, method: String, status: Int, tenant: String?) {
        registry.makeCounter(
            name: "enface_http_requests_total",
            labels: [("route", route), ("method", method), ("status", "\(status / 100)xx"), ("tenant", label(tenant))]
        ).increment()
    }

    /// `enface_rate_limited_total{tenant,kind}`: kind is `minute` or `day`.
    func rateLimited(tenant: String, kind: String) {
        registry.makeCounter(name: "enface_rate_limited_total", labels: [("tenant", label(tenant)), ("kind", kind)]).increment()
    }

    /// `enface_auth_failures_total{plane,reason}`.
    func authFailure(plane: String, reason: String) {
        registry.makeCounter(name: "enface_auth_failures_total", labels: [("plane", plane), ("reason", reason)]).increment()
    }

    /// `enface_searches_total{source}`: `memory` (the tenant's shard) or `database` (pgvector
    /// while the shard loads).
    func search(source: String) {
        registry.makeCounter(name: "enface_searches_total", labels: [("source", source)]).increment()
    }

    /// `enface_image_queue_depth`: photos waiting for a face engine.
    func imageQueue(_ depth: Int) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "enface", metricName: "image_queue", unitName: "depth", helpText: "Photos waiting for a face engine."),
            labels: []
        ).set(Double(depth))
    }

    /// `enface_image_requests_total{outcome}`: ok, busy, invalid (unreadable or too large), faces
    /// (none or several at enroll), error.
    func image(outcome: String) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "enface", metricName: "image_requests", unitName: "total", helpText: "Photos analysed, by outcome."),
            labels: [("outcome", outcome)]
        ).increment()
    }

    static let stageBuckets: [Duration] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000].map { .milliseconds($0) }

    /// `enface_image_stage_seconds{stage}`: queue, decode, detect, describe, per photo.
    func imageStages(queued: Duration, decode: Duration, detect: Duration, describe: Duration) {
        for (stage, time) in [("queue", queued), ("decode", decode), ("detect", detect), ("describe", describe)] {
            registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "enface", metricName: "image_stage", unitName: "seconds", helpText: "Time per photo in each stage."),
                labels: [("stage", stage)], buckets: Self.stageBuckets
            ).record(time)
        }
    }

    /// `enface_process_heap_bytes` (bytes the allocator has handed out and not got back),
    /// `enface_process_heap_free_bytes` (bytes freed that it keeps for reuse) and
    /// `enface_process_resident_bytes` (the process's resident set), read at each scrape. The
    /// heap is what grows when something leaks; resident memory also holds what the allocator
    /// keeps, which rises and falls with how the work fell across its per-thread arenas.
    func sampleProcess() {
        processGauge("heap", "Heap bytes in use (malloc's arenas and mapped blocks).", Double(enface_heap_bytes()))
        processGauge("heap_free", "Heap bytes freed and kept by malloc for reuse (resident, not in use).", Double(enface_heap_free_bytes()))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
           let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            processGauge("resident", "Resident memory of the process.", Double(pages * Int(sysconf(Int32(_SC_PAGESIZE)))))
        }
    }

    /// `enface_process_<name>_bytes`, set to `bytes`.
    private func processGauge(_ name: String, _ help: String, _ bytes: Double) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "enface", subsystem: "process", metricName: name, unitName: "bytes", helpText: help),
            labels: []
        ).set(bytes)
    }

    public func render() -> String {
        sampleProcess()
        return registry.emitToString()
    }

    private func label(_ tenant: String?) -> String {
        guard let tenant else { return "none" }
        return tenantLabels.withLock { labels in
            if labels.contains(tenant) { return tenant }
            guard labels.count < Self.maximumTenantLabels else { return "other" }
            labels.insert(tenant)
            return tenant
        }
    }
}
