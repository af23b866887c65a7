// `enface tenant …`: the operator plane's tenant use cases, from a shell.

import ArgumentParser
import FaceService
import Foundation
import Tenancy
import WireFormats

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create, inspect and move tenants through their lifecycle; apply a provisioning file.",
        subcommands: [
            Create.self, List.self, Show.self, Activate.self, Suspend.self, Reactivate.self, Delete.self, Apply.self,
            CalibrationCommand.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant (pending) with its first API key, printed once.")

        @Option(help: "The tenant's URL-safe name: 3–50 of a-z, 0-9 and '-'.") var slug: String
        @Option(help: "The display name.") var name: String
        @Option(help: "starter, pro or enterprise.") var plan = Plan.starter.rawValue
        @Option(help: "The face model (models/*.json); fixed for the tenant's life.") var model = ModelCatalog.defaultModel
        @Flag(help: "Activate it at once.") var activate = false

        func run() async throws {
            try await OperatorSession.run { session in
                let created = try await session.administration.create(
                    ["slug": .string(slug), "name": .string(name), "plan": .string(plan), "model": .string(model)],
                    by: session.actor)
                var tenant = created.tenant
                if activate { tenant = try await session.administration.activate(tenant.id, by: session.actor) }
                try printJSON(CreatedTenant(tenant: tenant, apiKey: created.key.text, keyId: created.keyID))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants, oldest first.")

        @Option(help: "pending, active, suspended or deleted.") var status: String?

        func run() async throws {
            let status = try status.map { text in
                guard let status = TenantStatus(rawValue: text) else { throw ValidationError("no such status: \(text)") }
                return status
            }
            try await OperatorSession.run { session in
                var cursor: TenantCursor?
                print("id                                    slug                 status     plan")
                repeat {
                    let page = try await session.administration.list(status: status, after: cursor, limit: 500)
                    for tenant in page {
                        print(tenant.id.uuidString.lowercased(), pad(tenant.slug, 20), pad(tenant.status.rawValue, 10), tenant.plan.rawValue)
                    }
                    cursor = page.count == 500 ? page.last.map { TenantCursor(createdAt: $0.createdAt, id: $0.id) } : nil
                } while cursor != nil
            }
        }

        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one tenant as JSON.")

        @Argument(help: "The tenant's id or slug.") var tenant: String

        func run() async throws {
            try await OperatorSession.run { session in try printJSON(try await session.administration.tenant(tenant)) }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "pending → active.")
        @Argument(help: "The tenant's id or slug.") var tenant: String

        func run() async throws {
            try await OperatorSession.run { session in
                try printJSON(try await session.administration.activate(try await session.tenantID(tenant), by: session.actor))
            }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "active → suspended: its data-plane calls get 403.")
        @Argument(help: "The tenant's id or slug.") var tenant: String
        @Option(help: "Why; kept with the tenant and in the audit trail.") var reason: String?

        func run() async throws {
            try await OperatorSession.run { session in
                try printJSON(
                    try await session.administration.suspend(try await session.tenantID(tenant), reason: reason, by: session.actor))
            }
        }
    }

    struct Reactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "suspended → active.")
        @Argument(help: "The tenant's id or slug.") var tenant: String

        func run() async throws {
            try await OperatorSession.run { session in
                try printJSON(try await session.administration.reactivate(try await session.tenantID(tenant), by: session.actor))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a tenant: its keys are revoked at once, its data purged after its retention days.")
        @Argument(help: "The tenant's id or slug.") var tenant: String

        func run() async throws {
            try await OperatorSession.run { session in
                try printJSON(try await session.administration.delete(try await session.tenantID(tenant), by: session.actor))
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring the tenants to what a file declares (schemas/tenants.schema.json), in one transaction.",
            discussion: """
                Prints the plan (create / update / unchanged, each changed field before → after), then \
                applies it. A field the file leaves out is left as it is. Tenants the file does not name \
                are left alone unless --prune is given: then suspended ones are deleted, active ones only \
                suspended (a file deletes an active tenant only by declaring it with "status": "deleted"), \
                pending ones kept. The API key of each created tenant is printed once. An invalid file is \
                refused with the JSON pointer of each error, and nothing is applied.
                """)

        @Option(help: "The provisioning file.") var file: String
        @Flag(help: "Suspend active tenants the file does not name, and delete suspended ones.") var prune = false
        @Flag(help: "Print the plan only.") var dryRun = false

        func run() async throws {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw CommandFailure("cannot read \(file)")
            }
            try await OperatorSession.run { session in
                let desired = try ProvisioningFile.parse(data, models: session.models)
                let provisioner = Provisioner(administration: session.administration)
                if dryRun {
                    printPlan(try await provisioner.plan(desired, prune: prune))
                    return
                }
                let outcome = try await provisioner.apply(desired, prune: prune, by: session.actor)
                printPlan(outcome.steps)
                for (slug, key) in outcome.createdKeys.sorted(by: { $0.key < $1.key }) {
                    print("key \(slug) \(key.text)")
                }
                let changed = outcome.steps.filter { $0.kind != .unchanged }.count
                print(changed == 0 ? "applied: nothing to change" : "applied: \(changed) change(s)")
            }
        }

        func printPlan(_ steps: [Provisioner.Step]) {
            for step in steps {
                print("\(step.kind.rawValue) \(step.slug)" + (step.note.map { ": \($0)" } ?? ""))
                for change in step.changes where step.kind != .create {
                    print("    \(change.field): \(change.before) → \(change.after)")
                }
            }
        }
    }
}

/// What `tenant create` prints: the tenant and its first key, the only time it is shown.
struct CreatedTenant: Encodable {
    var tenant: Tenant
    var apiKey: String
    @WireUUID var keyId: UUID
}
