import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 request to 127.0.0.1 on a connection of its own, for the chaos run's app server and `/readyz` probes.
/// Foundation's URLSession is avoided on purpose: on Linux it runs on libcurl and Dispatch sources, which a run that
/// kills servers by the hundred should not depend on.
enum LoopbackHTTP {
    struct Response: Sendable {
        var status: Int
        var body: String
    }

    /// The response, or nil when the server did not answer within `timeout` (refused, reset, stopped).
    static func request(_ method: HTTPMethod, port: Int, path: String, headers: [(String, String)] = [],
                        body: [UInt8] = [], timeout: TimeAmount = .seconds(2)) async -> Response? {
        let group = MultiThreadedEventLoopGroup.singleton
        let answer = OneAnswer(group.next().makePromise(of: Response.self))
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(answer: answer))
                }
            }
        guard let channel = try? await bootstrap.connect(host: "127.0.0.1", port: port).get() else {
            answer.fail(ChannelError.connectTimeout(timeout))
            return nil
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let response = try? await answer.promise.futureResult.get()
        deadline.cancel()
        try? await channel.close()
        return response
    }
}

/// A promise completed by whichever comes first (the response, the connection's end, a failed connect), once.
private final class OneAnswer: Sendable {
    let promise: EventLoopPromise<LoopbackHTTP.Response>
    private let done = NIOLockedValueBox(false)

    init(_ promise: EventLoopPromise<LoopbackHTTP.Response>) {
        self.promise = promise
    }

    private func first() -> Bool { done.withLockedValue { was in defer { was = true }; return !was } }
    func succeed(_ response: LoopbackHTTP.Response) { if first() { promise.succeed(response) } }
    func fail(_ error: any Error) { if first() { promise.fail(error) } }
}

/// Collects one response into its answer; a connection that ends first fails it.
private final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let answer: OneAnswer
    private var status = 0
    private var body = ""

    init(answer: OneAnswer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(let buffer): body += String(buffer: buffer)
        case .end: answer.succeed(.init(status: status, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer.fail(error)
        context.close(promise: nil)
    }
}
