// A problem+json response, decoded and checked for the fields every error must carry.

import Foundation
import HummingbirdTesting
import Testing

struct ProblemBody: Decodable {
    var type: String
    var title: String
    var status: Int
    var detail: String?
    var code: String
    var requestId: String

    init(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        self = try JSONDecoder().decode(ProblemBody.self, from: Data(buffer: response.body))
        #expect(status == Int(response.status.code), sourceLocation: sourceLocation)
        #expect(requestId == response.headers[.init("X-Request-ID")!], sourceLocation: sourceLocation)
    }
}
