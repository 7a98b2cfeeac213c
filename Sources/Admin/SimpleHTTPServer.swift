import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1 server for endpoints whose responses fit in memory: the admin endpoint and the dev demo server.
/// Each request (its body ignored) is answered by `answer`, one at a time per keep-alive connection.
///
/// Guarantees: `answer` runs in a task, never on the event loop, so it may await (Redis, token signing); its response
/// is written back on the connection's loop, as ``SimpleHTTPResponse`` writes it.
public final class SimpleHTTPServer: Sendable {
    public typealias Answer = @Sendable (HTTPRequestHead) async -> SimpleHTTPResponse

    private let channel: any Channel
    /// The port it listens on (useful when asked for port 0).
    public let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    public static func start(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             answer: @escaping Answer) async throws -> SimpleHTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(SimpleHTTPHandler(answer: answer))
                }
            }
            .bind(host: host, port: port)
            .get()
        return SimpleHTTPServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Collects a request's head and answers it at the request's end (internal for the handler tests).
final class SimpleHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let answer: SimpleHTTPServer.Answer
    private var head: HTTPRequestHead?

    init(answer: @escaping SimpleHTTPServer.Answer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let answer = self.answer
            let promise = context.eventLoop.makePromise(of: SimpleHTTPResponse.self)
            promise.completeWithTask { await answer(head) }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { $0.write(answering: head, context: bound.value) }
        }
    }
}
