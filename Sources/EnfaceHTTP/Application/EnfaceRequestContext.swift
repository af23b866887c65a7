// The per-request context every route and middleware receives.

import Hummingbird
import Logging

/// Hummingbird's core context plus what Enface knows about the request.
public struct EnfaceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `RequestIDMiddleware`; echoed in `X-Request-ID` and in every problem body.
    public var requestID: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
    }
}
