// Splits a SQL script into statements, the way PostgreSQL's own lexer sees the semicolons.

/// PostgresNIO speaks only the extended query protocol, which takes one statement per message,
/// so a migration file is cut at its top-level semicolons. A semicolon inside a string, a quoted
/// identifier, a dollar-quoted body or a comment does not end a statement.
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        let text = Array(script.unicodeScalars)
        var statements: [String] = []
        var start = 0  // first code scalar of the current statement
        var index = 0
        var hasCode = false  // the current statement holds something besides blanks and comments

        /// Marks `position` as code; the statement starts at its first code, after any comments.
        func code(at position: Int) {
            if !hasCode { start = position }
            hasCode = true
        }

        func finish(at end: Int) {
            if hasCode {
                statements.append(String(String.UnicodeScalarView(text[start..<end])).trimmingWhitespace())
            }
            hasCode = false
        }

        while index < text.count {
            let scalar = text[index]
            let next: Unicode.Scalar? = index + 1 < text.count ? text[index + 1] : nil
            switch scalar {
            case "-" where next == "-":
                while index < text.count, text[index] != "\n" { index += 1 }
                continue
            case "/" where next == "*":
                // Block comments nest in PostgreSQL.
                var depth = 0
                while index < text.count {
                    if text[index] == "/", index + 1 < text.count, text[index + 1] == "*" {
                        depth += 1
                        index += 2
                    } else if text[index] == "*", index + 1 < text.count, text[index + 1] == "/" {
                        depth -= 1
                        index += 2
                        if depth == 0 { break }
                    } else {
                        index += 1
                    }
                }
                continue
            case "'":
                let escapes = index > 0 && (text[index - 1] == "E" || text[index - 1] == "e")
                code(at: escapes ? index - 1 : index)
                index = skipQuoted(text, from: index, quote: "'", backslashEscapes: escapes)
                continue
            case "\"":
                code(at: index)
                index = skipQuoted(text, from: index, quote: "\"", backslashEscapes: false)
                continue
            case "$":
                code(at: index)
                if let tagEnd = dollarTagEnd(text, from: index) {
                    let tag = Array(text[index...tagEnd])
                    index = tagEnd + 1
                    while index < text.count {
                        if text[index] == "$", index + tag.count <= text.count,
                           Array(text[index..<(index + tag.count)]) == tag
                        {
                            index += tag.count
                            break
                        }
                        index += 1
                    }
                    continue
                }
            case ";":
                finish(at: index)
            default:
                if !scalar.properties.isWhitespace { code(at: index) }
            }
            index += 1
        }
        finish(at: text.count)
        return statements
    }

    /// Index just past the closing quote; a doubled quote is an escaped quote.
    private static func skipQuoted(
        _ text: [Unicode.Scalar], from opening: Int, quote: Unicode.Scalar, backslashEscapes: Bool
    ) -> Int {
        var index = opening + 1
        while index < text.count {
            if backslashEscapes, text[index] == "\\" {
                index += 2
                continue
            }
            if text[index] == quote {
                if index + 1 < text.count, text[index + 1] == quote {
                    index += 2
                    continue
                }
                return index + 1
            }
            index += 1
        }
        return index
    }

    /// For `$tag$` or `$$` at `start`, the index of the tag's closing `$`; nil for `$1` and the
    /// like, which are parameters, not quotes.
    private static func dollarTagEnd(_ text: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start + 1
        while index < text.count {
            let scalar = text[index]
            if scalar == "$" { return index }
            let isTagCharacter =
                scalar == "_" || scalar.properties.isAlphabetic || (index > start + 1 && ("0"..."9").contains(scalar))
            guard isTagCharacter else { return nil }
            index += 1
        }
        return nil
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
