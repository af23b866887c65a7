// `enface keys rotate-master`: re-wrap every key under a new master key.

import ArgumentParser
import EnfaceHTTP
import FaceService
import Foundation
import TemplateProtection

struct MasterKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "The master key and the keys it wraps.",
        subcommands: [RotateMaster.self, RotateAudit.self, RekeyTenant.self])

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: "Re-wrap every tenant key and the audit chain's key under a new master key.",
            discussion: """
                Stop every Enface node first; start them again with the new key. Faces are not \
                touched. The new key comes from --new-key-file, or is generated. With a key \
                file (ENFACE_MASTER_KEY unset) the file is replaced and the old key is kept \
                beside it as master.key.previous, for backups taken before the rotation; \
                with ENFACE_MASTER_KEY, a generated key is written to master.key.new for you \
                to move into your secret store.
                """)

        @Option(help: "Read the new key from this file (0600) instead of generating one.") var newKeyFile: String?
        @Flag(help: "Rotate even while Enface nodes are connected to the database.") var force = false

        func run() async throws {
            try await OperatorSession.run { session in
                let keyFile = session.configuration.masterKeyFile
                let fromFile = (session.configuration.masterKey ?? "").isEmpty
                let given = try newKeyFile.map { try MasterKey.read(URL(fileURLWithPath: $0)) }
                let newKey = given ?? MasterKey.generate()
                // The new key is on disk before the database depends on it.
                let staged = keyFile.appendingPathExtension("new")
                if given == nil {
                    guard !FileManager.default.fileExists(atPath: staged.path) else {
                        throw CommandFailure(
                            "\(staged.path) is left from an earlier rotation that may have committed: start a node with it; "
                                + "if it opens the database's keys it is the master key now, else move it aside and rotate again")
                    }
                    try newKey.write(to: staged)
                }
                let report: MasterKeyRotation.Report
                do {
                    report = try await session.services.rotateMasterKey(to: newKey, force: force, by: session.actor)
                } catch let refusal as MasterKeyRotation.Refusal {
                    // Refused before anything was written: the staged key is no one's.
                    if given == nil { try? FileManager.default.removeItem(at: staged) }
                    throw CommandFailure(refusal.description)
                } catch {
                    // The commit may or may not have happened (a lost connection): keep the key.
                    if given == nil { print("the rotation failed; \(staged.path) is kept in case it committed") }
                    throw error
                }
                print("rotated \(report.tenantKeys) tenant key(s) and \(report.platformKeys) platform key(s) from \(report.from) to \(report.to)")
                if fromFile {
                    let previous = keyFile.appendingPathExtension("previous")
                    try? FileManager.default.removeItem(at: previous)
                    try FileManager.default.moveItem(at: keyFile, to: previous)
                    if let given { try given.write(to: keyFile) } else { try FileManager.default.moveItem(at: staged, to: keyFile) }
                    print("\(keyFile.path) holds the new key; the old one is in \(previous.path)")
                } else if given == nil {
                    print("the new key is in \(staged.path): set ENFACE_MASTER_KEY to it")
                } else {
                    print("set ENFACE_MASTER_KEY to the key in \(newKeyFile!)")
                }
                print("start every node with the new key")
            }
        }
    }

    struct RotateAudit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-audit",
            abstract: "Give the audit chain a new random key; earlier events keep verifying with theirs.",
            discussion: "Stop every Enface node first: nodes hold the audit keys in memory.")

        @Flag(help: "Rotate even while Enface nodes are connected to the database.") var force = false

        func run() async throws {
            try await OperatorSession.run { session in
                do {
                    let version = try await session.services.rotateAuditKey(force: force, by: session.actor)
                    print("the audit chain's key is now version \(version); start every node again")
                } catch let refusal as MasterKeyRotation.Refusal {
                    throw CommandFailure(refusal.description)
                }
            }
        }
    }

    struct RekeyTenant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rekey-tenant",
            abstract: "Give one tenant a new key: person keys re-wrapped, templates re-rotated (a suspected compromise).",
            discussion: """
                Runs as the schema owner (ENFACE_DATABASE_URL, or the embedded database), in one \
                transaction. Running nodes drop the tenant's old key and shard when its change \
                notice arrives, and load them again under the new key.
                """)

        @Argument(help: "The tenant's id or slug.") var tenant: String

        func run() async throws {
            try await OperatorSession.run { session in
                let id = try await session.tenantID(tenant)
                let report = try await session.services.rekeyTenant(id, by: session.actor)
                print(
                    "re-keyed \(tenant): \(report.persons) person key(s) re-wrapped, \(report.templates) template(s) re-rotated, "
                        + "key version \(report.keyVersion)")
            }
        }
    }
}
