// multipart/form-data (RFC 7578): text parts read into the same JSON object a JSON body would be,
// so both kinds of body pass through one validation (`FieldReader`), strings or numbers for the
// fields that are numbers; file parts kept as their bytes, with no base64 round trip.

import Foundation

public struct MultipartForm: Sendable, Equatable {
    /// The text parts, by name.
    public var fields: [String: JSONValue]
    /// The file parts' bytes, by name. No name is both a field and a file.
    public var files: [String: [UInt8]]

    public init(fields: [String: JSONValue] = [:], files: [String: [UInt8]] = [:]) {
        self.fields = fields
        self.files = files
    }

    /// Fields whose text is a number.
    static let numericFields: Set = ["limit", "minScore"]

    /// The form's parts, or nil when the body is not a well-formed form.
    public static func parse(_ body: some Collection<UInt8>, contentType: String) -> MultipartForm? {
        guard let boundary = boundary(contentType), !boundary.isEmpty, boundary.utf8.count <= 70 else { return nil }
        let bytes = Array(body)
        // The first delimiter opens the form; every later one starts a line (RFC 2046), so the
        // bytes of a file that merely contain "--boundary" do not end its part.
        let delimiter = Array("--\(boundary)".utf8)
        guard let first = find(delimiter, in: bytes, from: 0) else { return nil }
        var starts = [first]
        var last = first
        while let found = find([13, 10] + delimiter, in: bytes, from: last + delimiter.count) {
            last = found + 2
            starts.append(last)
        }
        guard starts.count >= 2 else { return nil }
        var form = MultipartForm()
        for (start, end) in zip(starts, starts.dropFirst()) {
            // Each part: CRLF, headers, CRLF CRLF, content, then the CRLF of the next delimiter.
            var partStart = start + delimiter.count
            guard bytes[partStart..<min(partStart + 2, bytes.count)].elementsEqual([13, 10]) else { return nil }
            partStart += 2
            let partEnd = end - 2
            guard partEnd >= partStart, let split = find([13, 10, 13, 10], in: bytes, from: partStart), split + 4 <= partEnd
            else { return nil }
            let headers = String(decoding: bytes[partStart..<split], as: UTF8.self)
            let content = bytes[(split + 4)..<partEnd]
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
                  let name = parameter("name", in: String(disposition)), form.fields[name] == nil, form.files[name] == nil
            else { return nil }
            if parameter("filename", in: String(disposition)) != nil {
                form.files[name] = Array(content)
            } else {
                let text = String(decoding: content, as: UTF8.self)
                if numericFields.contains(name), let number = Double(text) {
                    form.fields[name] = .number(number)
                } else {
                    form.fields[name] = .string(text)
                }
            }
        }
        // The last delimiter closes the form: "--boundary--".
        let close = last + delimiter.count
        guard bytes[close..<min(close + 2, bytes.count)].elementsEqual([45, 45]) else { return nil }
        return form
    }

    static func boundary(_ contentType: String) -> String? {
        parameter("boundary", in: contentType)
    }

    /// `name=value` or `name="value"` among a header's `;`-separated parameters.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == name else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
