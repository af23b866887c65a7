// /openapi.yaml: the OpenAPI 3.1 document of every route, shipped inside the binary.

import Foundation
import Hummingbird

enum OpenAPIDocument {
    static let text: String = {
        guard let url = Bundle.module.url(forResource: "OpenAPI/openapi", withExtension: "yaml")
            ?? Bundle.module.url(forResource: "openapi", withExtension: "yaml", subdirectory: "OpenAPI"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()

    static func response() -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8", .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
