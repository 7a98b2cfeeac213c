import NIOCore
import NIOHTTP1

/// Serves the push API (pushes, publishes to topics and the admin API) on one keep-alive connection, one request at a time (NIO's pipelining handler holds later
/// requests back until the current response is written).
///
/// Guarantees: never buffers more than ``PushPolicy/maxPayloadBytes`` of body (``RevocationRequest/maxBodyBytes`` for
/// the admin API; a larger body is answered 413 and the
/// connection closed, without reading the rest); a request refused from its head while a body is on its way is
/// answered at once and its connection closed, so no unread body is mistaken for the next request; the Redis and Kafka
/// work runs in a task, never on the event loop, and its answer is written back on the loop.
final class PushHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// Refused or answered from the head, with no body coming: answer at the request's end.
        case answerAtEnd(PushResponse)
        /// A push, a publish or an admin request whose head passed: its body is being read.
        case reading(Route, body: ByteBuffer)
        case processing
        /// Answered, and the connection is closing: ignore the rest.
        case closing
    }

    /// A request whose head passed: for the push API (``PushCarrier``) or for the admin API (``RevocationAdmin``).
    private enum Route {
        case push(PushRoute)
        case revocations(RevocationRequest)

        var expectsContinue: Bool {
            switch self {
            case .push(let route): route.expectsContinue
            case .revocations(let request): request.expectsContinue
            }
        }

        /// The largest body read: ``PushPolicy/maxPayloadBytes``, or ``RevocationRequest/maxBodyBytes`` for the admin API.
        func maxBodyBytes(_ policy: PushPolicy) -> Int {
            if case .revocations = self { return RevocationRequest.maxBodyBytes }
            return policy.maxPayloadBytes
        }
    }

    private let config: PushHTTPConfig
    private let endpoint: any PushCarrier
    /// The admin API's revocations; nil: admin requests answer 403 `admin_disabled`.
    private let admin: RevocationAdmin?
    private let metrics: PushMetrics
    private var state = State.idle
    private var keepAlive = true
    private var version = HTTPVersion.http1_1
    /// A response to HEAD has headers only (its Content-Length still says what GET would have sent).
    private var headOnly = false
    private var deadline: Scheduled<Void>?
    private var active = false

    init(config: PushHTTPConfig, endpoint: any PushCarrier, metrics: PushMetrics, admin: RevocationAdmin? = nil) {
        self.config = config
        self.endpoint = endpoint
        self.admin = admin
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        active = true
        armDeadline(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        deadline?.cancel()
        context.fireChannelInactive()
    }

    /// Malformed HTTP: NIO's protocol-error handler has answered 400; nothing more can be read from this connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .closing = state { return }
        switch unwrapInboundIn(data) {
        case .head(let head): received(head, context: context)
        case .body(let chunk): received(chunk, context: context)
        case .end: requestEnded(context: context)
        }
    }

    private func received(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        armDeadline(context: context)
        keepAlive = head.isKeepAlive
        version = head.version
        headOnly = head.method == .HEAD
        let headers = head.headers.map { (name: $0.name, value: $0.value) }
        let declared = head.headers.first(name: "content-length").flatMap { Int($0) }
        let bodyComing = (declared ?? 0) > 0 || head.headers.contains(name: "transfer-encoding")
        let response: PushResponse
        let method = head.method.rawValue
        let routed = PushRequestParser.revocationRoute(method: method, uri: head.uri, headers: headers, policy: config.policy)?
            .map(Route.revocations)
            ?? PushRequestParser.route(method: method, uri: head.uri, headers: headers, policy: config.policy).map(Route.push)
        switch routed {
        case .success(.push(.preflight)): response = .preflight
        case .success(let route):
            if route.expectsContinue {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                                      promise: nil)
            }
            state = .reading(route, body: context.channel.allocator.buffer(capacity: min(declared ?? 256, route.maxBodyBytes(config.policy))))
            return
        case .failure(let rejection): response = .error(rejection)
        }
        if bodyComing || response.closesConnection {
            var closing = response
            closing.closesConnection = true
            state = .closing
            write(closing, context: context)
        } else {
            state = .answerAtEnd(response)
        }
    }

    private func received(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        guard case .reading(let route, var body) = state else { return }
        let limit = route.maxBodyBytes(config.policy)
        guard body.readableBytes + chunk.readableBytes <= limit else {
            state = .closing
            write(.error(.tooLarge(limit: limit)), context: context)
            return
        }
        state = .processing  // drops the buffer's second reference, so the append does not copy
        var chunk = chunk
        body.writeBuffer(&chunk)
        state = .reading(route, body: body)
    }

    private func requestEnded(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        switch state {
        case .answerAtEnd(let response):
            state = .idle
            write(response, context: context)
        case .reading(let route, let body):
            state = .processing
            process(route, payload: Array(buffer: body), context: context)
        case .idle, .processing, .closing:
            break
        }
    }

    private func process(_ route: Route, payload: [UInt8], context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let promise = context.eventLoop.makePromise(of: PushResponse.self)
        let endpoint = self.endpoint
        let admin = self.admin
        promise.completeWithTask {
            switch route {
            case .push(.push(let request)): await endpoint.push(request, payload: payload)
            case .push(.publish(let request)): await endpoint.publish(request, payload: payload)
            case .push(.preflight): .preflight  // answered from its head; never read a body
            case .revocations(let request): await admin?.carry(request, body: payload) ?? .error(.adminDisabled)
            }
        }
        promise.futureResult.whenSuccess { response in
            let handler = handler.value
            guard handler.active, case .processing = handler.state else { return }
            handler.state = .idle
            handler.write(response, context: boundContext.value)
        }
    }

    private func write(_ response: PushResponse, context: ChannelHandlerContext) {
        let response = response.final(corsOrigin: config.corsOrigin, keepAlive: keepAlive)
        metrics.answered(response.status)
        // Before writing: writing the end lets NIO hand over a pipelined request at once, re-entrantly, and that
        // request must find the state (and its deadline) already set.
        if response.closesConnection {
            deadline?.cancel()
            state = .closing
        } else {
            armDeadline(context: context)
        }
        var headers = HTTPHeaders()
        for header in response.headers { headers.add(name: header.name, value: header.value) }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !response.body.isEmpty && !headOnly {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let channel = context.channel
        let closes = response.closesConnection
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if closes { channel.close(promise: nil) }
        }
    }

    /// (Re)starts the clock for the next step: a head after connecting or answering, the end after a head.
    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: config.requestTimeout) { channel.close(promise: nil) }
    }
}
