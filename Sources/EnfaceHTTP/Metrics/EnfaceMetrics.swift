// Prometheus metrics of one application: its own registry, and a swift-metrics factory over it
// that the composition root hands to every layer that counts (no global bootstrap). Labels are
// kept to a bounded set so a flood of tenants or paths cannot explode the series count.

import CoreMetrics
import CProcessMemory
import FaceService
import Foundation
import Prometheus
import Synchronization

public final class EnfaceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// swift-metrics over `registry`, for FaceService and the rest (`FaceMetrics`).
    public let factory: PrometheusMetricsFactory
    private let tenantLabels = Mutex<Set<String>>([])
    /// Run before each scrape: the gauges read at that moment (the shards in memory).
    private let samplers = Mutex<[@Sendable () async -> Void]>([])

    /// Tenants beyond this many are counted as `other`.
    static let maximumTenantLabels = 1_000
    static let requestDurationLabel = "enface_http_request_duration_seconds"

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            Self.requestDurationLabel: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000].map { .microseconds(Int64($0 * 1_000)) },
            FaceMetrics.scanLabel: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1_000].map { .microseconds(Int64($0 * 1_000)) },
            FaceMetrics.scanWaitLabel: [0.01, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1_000].map { .microseconds(Int64($0 * 1_000)) },
        ]
        self.factory = factory
    }

    /// Adds something to read at every scrape.
    public func sampleOnScrape(_ sampler: @escaping @Sendable () async -> Void) {
        samplers.withLock { $0.append(sampler) }
    }

    /// `enface_http_requests_total{route,method,status,tenant}` and
    /// `enface_http_request_duration_seconds{…}` (histogram): route is the matched template,
    /// status its class (`2xx`).
    func request(route: String, method: String, status: Int, tenant: String?, duration: Duration) {
        let labels = [("route", route), ("method", method), ("status", "\(status / 100)xx"), ("tenant", label(tenant))]
        Counter(label: "enface_http_requests_total", dimensions: labels, factory: factory).increment()
        Timer(label: Self.requestDurationLabel, dimensions: labels, factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    /// `enface_rate_limited_total{tenant,kind}`: kind is `minute` or `day`.
    func rateLimited(tenant: String, kind: String) {
        Counter(label: "enface_rate_limited_total", dimensions: [("tenant", label(tenant)), ("kind", kind)], factory: factory).increment()
    }

    /// `enface_auth_failures_total{plane,reason}`.
    func authFailure(plane: String, reason: String) {
        Counter(label: "enface_auth_failures_total", dimensions: [("plane", plane), ("reason", reason)], factory: factory).increment()
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

    public func render() async -> String {
        sampleProcess()
        for sampler in samplers.withLock({ $0 }) { await sampler() }
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
