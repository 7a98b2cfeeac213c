import NIOCore
import NIOHTTP1

/// One complete HTTP/1 response with a small in-memory body, as the admin endpoint and the dev demo server send them.
///
/// Guarantees: `Content-Length` always matches the body; a HEAD request gets the headers without the body; the
/// connection is closed after the response unless the request asked to keep it alive.
public struct SimpleHTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]
    /// More headers, for example `Cache-Control`.
    public var headers: [(String, String)]

    public init(_ status: HTTPResponseStatus, _ contentType: String, _ body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    /// Writes the response to `request` on the handler's `context` (its outbound type must be `HTTPServerResponsePart`).
    public func write(answering request: HTTPRequestHead, context: ChannelHandlerContext) {
        var fields = HTTPHeaders()
        fields.add(name: "Content-Type", value: contentType)
        fields.add(name: "Content-Length", value: "\(body.count)")
        for (name, value) in headers { fields.add(name: name, value: value) }
        if !request.isKeepAlive { fields.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: status, headers: fields)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let keepAlive = request.isKeepAlive
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
