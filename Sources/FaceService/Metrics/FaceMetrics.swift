// What the use cases measure, through swift-metrics. The composition root hands in the factory
// (Prometheus in a node, none in most tests): nothing here knows how metrics are kept or served,
// and nothing is bootstrapped globally.

import CoreMetrics
import FaceIndex
import Foundation
import Synchronization

public final class FaceMetrics: Sendable {
    let factory: any MetricsFactory
    /// The tenants whose shard gauges the last scrape set.
    private let reported = Mutex<Set<String>>([])
    /// Made once: a search only counts, it looks nothing up in the registry.
    private let searches: [FaceRegistry.Source: Counter]
    private let scans: [String: CoreMetrics.Timer]
    private let scanWait: CoreMetrics.Timer

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        searches = Dictionary(uniqueKeysWithValues: [FaceRegistry.Source.memory, .database].map { source in
            (source, Counter(label: "enface_searches_total", dimensions: [("source", source.rawValue)], factory: factory))
        })
        let modes = SearchMode.allCases.filter { $0 != .auto }.map(\.rawValue) + [Self.pgvector]
        scans = Dictionary(uniqueKeysWithValues: modes.map { mode in
            (mode, CoreMetrics.Timer(label: Self.scanLabel, dimensions: [("mode", mode)], factory: factory))
        })
        scanWait = CoreMetrics.Timer(label: Self.scanWaitLabel, factory: factory)
    }

    /// The histogram of how long a scan waited for its turn (`ScanScheduler`).
    public static let scanWaitLabel = "enface_scan_wait_seconds"

    /// `enface_scan_wait_seconds`: a scan's wait for a core, its tenant's turn included.
    func scanWaited(_ wait: Duration) {
        scanWait.recordNanoseconds(wait.nanoseconds)
    }

    /// `enface_scans_refused_total{tenant}`: a search refused because its tenant already had its
    /// most scans waiting.
    func scanRefused(tenant: String) {
        Counter(label: "enface_scans_refused_total", dimensions: [("tenant", tenant)], factory: factory).increment()
    }

    /// The histogram of one search's scan, by how it was answered.
    public static let scanLabel = "enface_search_scan_seconds"
    /// The scan mode of a search pgvector answered while the tenant's shard loads.
    static let pgvector = "pgvector"

    /// `enface_searches_total{source}` and `enface_search_scan_seconds{mode}`: a search answered
    /// from the tenant's shard (mode `fp32` or `int8`) or by pgvector while it loads (`pgvector`).
    func searched(_ source: FaceRegistry.Source, mode: String, scan: Duration) {
        searches[source]?.increment()
        scans[mode]?.recordNanoseconds(scan.nanoseconds)
    }

    /// `enface_index_faces{tenant}` and `enface_index_bytes{tenant}` for each shard in memory,
    /// labelled with the tenant's slug as the request metrics are; the series of shards no longer
    /// in memory are removed.
    func sampleShards(_ shards: [(tenant: String, faces: Int, bytes: Int)]) {
        for shard in shards {
            Gauge(label: "enface_index_faces", dimensions: [("tenant", shard.tenant)], factory: factory).record(shard.faces)
            Gauge(label: "enface_index_bytes", dimensions: [("tenant", shard.tenant)], factory: factory).record(shard.bytes)
        }
        let present = Set(shards.map(\.tenant))
        let previously = reported.withLock { reported in
            defer { reported = present }
            return reported
        }
        for gone in previously.subtracting(present) {
            Gauge(label: "enface_index_faces", dimensions: [("tenant", gone)], factory: factory).destroy()
            Gauge(label: "enface_index_bytes", dimensions: [("tenant", gone)], factory: factory).destroy()
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating (a scan or a request lasts nowhere near 292 years).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowed ? .max : sum
    }
}
