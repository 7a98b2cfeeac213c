import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The load of `gateway-bench api`: keep-alive HTTP/1.1 connections to `gateway api`, each sending the next request as
/// soon as the previous one is answered (a closed loop, so the rate is what the API sustains), timing each from the
/// write of its head to the end of its response.
///
/// Counts only answers with the expected status in `latency`; anything else is counted in `failures` with its first
/// body kept, so a run that measured errors says so.
final class APILoad: Sendable {
    struct Totals: Sendable {
        var latency = LatencyHistogram()
        var answered = 0
        var failures = 0
        var firstFailure: String?
    }

    private let totals = NIOLockedValueBox(Totals())
    private let counting = NIOLockedValueBox(false)
    private let stopped = NIOLockedValueBox(false)
    private let channels = NIOLockedValueBox<[any Channel]>([])

    /// Opens `connections` connections to 127.0.0.1:`port` and starts each sending `POST path` with `body` (the same
    /// body every time; the API gives each message its own id).
    init(port: Int, connections: Int, path: String, key: String, body: [UInt8], expect status: Int) async throws {
        for _ in 0..<connections {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { [totals, counting, stopped] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            ClosedLoop(port: port, path: path, key: key, body: body, expect: status,
                                       totals: totals, counting: counting, stopped: stopped))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            channels.withLockedValue { $0.append(channel) }
        }
    }

    /// From now on answers are counted (the warm-up's are not).
    func startCounting() {
        totals.withLockedValue { $0 = Totals() }
        counting.withLockedValue { $0 = true }
    }

    /// What was counted since ``startCounting()``.
    func snapshot() -> Totals { totals.withLockedValue { $0 } }

    /// Stops sending and closes the connections.
    func stop() async {
        stopped.withLockedValue { $0 = true }
        for channel in channels.withLockedValue({ $0 }) { try? await channel.close() }
    }
}

/// Sends a request when the connection becomes active and after each full response, until stopped.
private final class ClosedLoop: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let body: [UInt8]
    private let expect: Int
    private let totals: NIOLockedValueBox<APILoad.Totals>
    private let counting: NIOLockedValueBox<Bool>
    private let stopped: NIOLockedValueBox<Bool>
    private var sentAt: UInt64 = 0
    private var status = 0
    private var failureBody = ""

    init(port: Int, path: String, key: String, body: [UInt8], expect: Int, totals: NIOLockedValueBox<APILoad.Totals>,
         counting: NIOLockedValueBox<Bool>, stopped: NIOLockedValueBox<Bool>) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "Authorization", value: "Bearer \(key)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        self.head = head
        self.body = body
        self.expect = expect
        self.totals = totals
        self.counting = counting
        self.stopped = stopped
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        context.fireChannelActive()
    }

    private func send(context: ChannelHandlerContext) {
        guard !stopped.withLockedValue({ $0 }) else { return }
        sentAt = DispatchTime.now().uptimeNanoseconds
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            status = Int(response.status.code)
            failureBody = ""
        case .body(let buffer):
            if status != expect, failureBody.count < 300 { failureBody += String(buffer: buffer) }
        case .end:
            let micros = Int64((DispatchTime.now().uptimeNanoseconds - sentAt) / 1000)
            if counting.withLockedValue({ $0 }) {
                totals.withLockedValue { totals in
                    if status == expect {
                        totals.latency.record(microseconds: micros)
                        totals.answered += 1
                    } else {
                        totals.failures += 1
                        if totals.firstFailure == nil { totals.firstFailure = "\(status) \(failureBody)" }
                    }
                }
            }
            send(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
