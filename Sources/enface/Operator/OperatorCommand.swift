// `enface operator token NAME`: a new operator credential and the line that configures it.

import ArgumentParser
import Tenancy

struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Operator credentials.", subcommands: [Token.self])

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an operator token: the token on the first line, its ENFACE_ADMIN_TOKENS entry on the second.",
            discussion: "Only the entry (a SHA-256 hash) is configured; keep the token where your operators keep secrets.")

        @Argument(help: "The operator's name, as the audit trail will record it.") var name: String

        func run() throws {
            guard name.wholeMatch(of: /[A-Za-z0-9._@-]{1,64}/) != nil else {
                throw ValidationError("a name is 1–64 of A-Z a-z 0-9 . _ @ -")
            }
            let token = OperatorTokens.generate()
            print(token)
            print(OperatorTokens.configurationLine(name: name, token: token))
        }
    }
}
