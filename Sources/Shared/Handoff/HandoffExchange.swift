import Lifecycle
import NIOCore
import NIOPosix

/// One request to one edge on a hand-off connection of its own: hello, the request frame, then the edge's answers
/// up to the ack of the request's batch, and the connection is closed. For operators' controls (``EdgeControl``),
/// which want an answer or an error within seconds: unlike ``HandoffClient``, nothing is queued, resent later or
/// given up on in the background.
///
/// Guarantees: the request reaches the edge only after the hello naming `edge` (with the secret): an edge with
/// another id, or one that refuses the secret, answers with an error frame before it reads the request, and this
/// fails. The answer is every frame after the edge's `welcome` up to and including the ack; a connection that cannot be
/// opened, ends early, answers with an error frame or takes longer than `timeout` is a ``HandoffExchangeError``.
enum HandoffExchange {
    static func run(_ request: HandoffFrame, batch: UInt64, edge: String, at record: EdgeRecord, sender: String,
                    secret: String, group: any EventLoopGroup, timeout: Duration) async throws -> [HandoffFrame] {
        let loop = group.next()
        let promise = loop.makePromise(of: [HandoffFrame].self)
        let place = "edge \(edge) at \(record.host):\(record.port)"
        let timer = loop.scheduleTask(in: timeout.timeAmount) {
            promise.fail(HandoffExchangeError.timedOut("\(place) did not answer within \(timeout)"))
        }
        let connected = ClientBootstrap(group: loop)
            .connectTimeout(min(timeout.timeAmount, .seconds(2)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(HandoffFrameDecoder()),
                        MessageToByteHandler(HandoffFrameEncoder()),
                        HandoffExchangeHandler(edge: edge, batch: batch, place: place, promise: promise),
                    ])
                }
            }
            .connect(host: record.host, port: record.port)
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                channel.write(HandoffFrame.hello(version: HandoffFrame.version, edge: edge, sender: sender, secret: secret),
                              promise: nil)
                channel.writeAndFlush(request, promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.fail(HandoffExchangeError.unreachable("cannot connect to \(place): \(error)"))
            }
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return try await promise.futureResult.get()
    }
}

/// Why a ``HandoffExchange`` got no answer.
public enum HandoffExchangeError: Error, Equatable, CustomStringConvertible {
    /// The edge's listener could not be reached, or closed the connection before it answered.
    case unreachable(String)
    /// The edge answered with an error frame (another edge id, a wrong secret, a frame it does not know).
    case refused(String)
    /// No whole answer within the time allowed.
    case timedOut(String)

    public var description: String {
        switch self {
        case .unreachable(let why), .refused(let why), .timedOut(let why): why
        }
    }
}

/// Collects the edge's answers on a ``HandoffExchange``'s connection. On the channel's event loop only.
private final class HandoffExchangeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HandoffFrame
    private let edge: String
    private let batch: UInt64
    private let place: String
    private let promise: EventLoopPromise<[HandoffFrame]>
    private var welcomed = false
    private var answers: [HandoffFrame] = []

    init(edge: String, batch: UInt64, place: String, promise: EventLoopPromise<[HandoffFrame]>) {
        self.edge = edge
        self.batch = batch
        self.place = place
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame {
        case .welcome(let answered, _) where !welcomed:
            guard answered == edge else { return promise.fail(HandoffExchangeError.refused("\(place) is edge \(answered)")) }
            welcomed = true
        case .error(let why):
            promise.fail(HandoffExchangeError.refused("\(place) refused: \(why)"))
        case .ack(let number) where welcomed && number == batch:
            answers.append(frame)
            promise.succeed(answers)
        case _ where welcomed:
            answers.append(frame)
        default:
            promise.fail(HandoffExchangeError.refused("\(place) answered \(frame) before its welcome"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HandoffExchangeError.unreachable("\(place) closed the connection before it answered"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(HandoffExchangeError.unreachable("\(place): \(error)"))
        context.close(promise: nil)
    }
}
