// `enface tenant calibration T`: a tenant's gallery calibration as tables, asked of a running
// node (only a serving node holds the tenant's shard; operators have no grant on templates).

import ArgumentParser
import Foundation
import Tenancy

struct CalibrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibration",
        abstract: "Print what a tenant's own gallery says about its threshold, asked of a running node.",
        discussion: """
            GET /admin/v1/tenants/T/calibration at --url with the operator token in \
            ENFACE_OPERATOR_TOKEN; a big gallery's job is waited for, its progress on standard error. \
            Prints the distributions, the error rates at the threshold in force and around it, the \
            near-duplicate persons and the last days' decisions; --json prints the answer as it came.
            """)

    @Argument(help: "The tenant's id or slug.") var tenant: String
    @Option(help: "The node: http://host:port.") var url = "http://127.0.0.1:8080"
    @Option(help: "Give up after this many seconds.") var timeout = 600
    @Flag(help: "Print the JSON answer.") var json = false

    func run() async throws {
        let server = try ServerRequest(url: url)
        let path = "/admin/v1/tenants/\(tenant.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? tenant)/calibration"
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let reply = try server.get(path)
            switch reply.status {
            case 200:
                if json { print(String(decoding: reply.body, as: UTF8.self)) } else { try Self.printTables(reply.body) }
                return
            case 202:
                guard ContinuousClock.now < deadline else { throw CommandFailure("still running after \(timeout) s") }
                let progress = (try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any])?["progress"] as? Double ?? 0
                FileHandle.standardError.write(Data("calibrating: \(String(format: "%.0f", min(100, max(0, progress * 100)))) %\n".utf8))
                // Whatever the node says, between 1 and 60 seconds.
                try await Task.sleep(for: .seconds(min(60, max(1, Int(reply.headers["retry-after"] ?? "") ?? 2))))
            default:
                let problem = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
                throw CommandFailure("\(reply.status) \(problem?["code"] as? String ?? ""): \(problem?["detail"] as? String ?? problem?["title"] as? String ?? "")")
            }
        }
    }

    static func printTables(_ body: Data) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let c = try decoder.decode(GalleryCalibration.self, from: body)
        print("\(c.persons) persons, \(c.faces) faces; \(c.method) (\(c.measuredPersons) persons measured); computed \(c.computedAt)")
        print("threshold \(c.threshold) (\(c.thresholdSource))\n")
        print("| scores | count | min | 1 % | 5 % | 25 % | median | 75 % | 95 % | 99 % | max |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (name, distribution) in [("genuine pairs", c.genuine), ("best impostor per person", c.impostor)] {
            let cells = Calibration.quantiles.map { q in distribution.quantiles[q == 0 ? "0" : q == 1 ? "1" : String(q)].map { String(format: "%.4f", $0) } ?? "–" }
            print("| \(name) | \(distribution.count) | " + cells.joined(separator: " | ") + " |")
        }
        print("\n| threshold | FNMR | FPIR | FPIR 95 % upper bound | FMR |")
        print("|---:|---:|---:|---:|---:|")
        for estimate in c.estimates.sorted(by: { $0.threshold < $1.threshold }) {
            let marker = estimate.threshold == c.threshold ? " (in force)" : ""
            print("| \(estimate.threshold)\(marker) | \(rate(estimate.falseNonMatchRate)) | \(rate(estimate.falsePositiveIdentificationRate)) | "
                + "\(rate(estimate.falsePositiveIdentificationRateUpper95)) | \(rate(estimate.falseMatchRate)) |")
        }
        print("\nnear-duplicate persons (\(c.nearDuplicates.count)):")
        for pair in c.nearDuplicates { print("  \(pair.personA)  \(pair.personB)  \(String(format: "%.4f", pair.score))") }
        if let decisions = c.decisions {
            print("\ndecisions \(decisions.from) … \(decisions.to):")
            for (name, kind) in [("verify", decisions.verify), ("search", decisions.search)] {
                print("  \(name): \(kind.matched) of \(kind.decisions) at or above \(kind.threshold)")
            }
        }
    }

    static func rate(_ value: Double?) -> String { value.map { String(format: "%.4g", $0) } ?? "–" }
}
