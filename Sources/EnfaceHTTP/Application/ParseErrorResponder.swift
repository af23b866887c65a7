// A request the HTTP parser refuses (a header over the limit, bytes that are not HTTP) gets the
// problem+json answer every other refusal gets, not Hummingbird's bare 400 with no body.

import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Sits after the HTTP codec (it sees `HTTPRequestPart`s). A parser error that arrives while no
/// request is being answered is answered here (431 for a header too large, 400 otherwise) and the
/// connection closed; the error goes no further, so nothing else answers it.
final class ParseErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Requests read whose answer has not ended yet.
    private var open = 0
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { open += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { open = max(0, open - 1) }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once answered, whatever else the parser says about the same bytes is ignored.
        if answered { return }
        guard let parserError = error as? HTTPParserError, open == 0 else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        let tooLarge = parserError == .headerOverflow
        let problem = Problem(
            tooLarge ? .requestHeaderFieldsTooLarge : .badRequest,
            code: tooLarge ? "header_too_large" : "bad_request",
            title: tooLarge ? "Request headers too large" : "Bad request",
            detail: tooLarge
                ? "A header is longer than \(Self.maxHeaderFieldSize) bytes, or all of them than \(Self.maxHeaderListSize)."
                : "The request is not well-formed HTTP/1.1.")
        let requestID = RequestIDMiddleware.generated()
        let body = problem.body(requestID: requestID)
        var head = HTTPResponse(status: problem.status, headerFields: problem.responseHeaders)
        head.headerFields[.requestID] = requestID
        head.headerFields[.connection] = "close"
        head.headerFields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// The limits the parser enforces: 16 KiB for one header (a key, a JWT and a cookie fit with
    /// room to spare), 64 KiB for all of them.
    static let maxHeaderFieldSize = 16 * 1024
    static let maxHeaderListSize = 64 * 1024
}
