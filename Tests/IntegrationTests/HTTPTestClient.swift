import DevCluster
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP response as the tests see it.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    /// The first header of that name (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A tiny HTTP/1.1 client over NIO for the push API: one keep-alive connection, one request at a time, any method,
/// any headers, any body bytes (URLSession on Linux adds headers of its own and cannot send every method).
final class HTTPTestClient: Sendable {
    private let channel: any Channel
    private let replies: AsyncStream<HTTPReply>
    let host: String

    private init(channel: any Channel, replies: AsyncStream<HTTPReply>, host: String) {
        self.channel = channel
        self.replies = replies
        self.host = host
    }

    /// Connects to `url`'s host and port (`http://127.0.0.1:PORT`).
    static func connect(_ url: String) async throws -> HTTPTestClient {
        let hostPort = url.replacingOccurrences(of: "http://", with: "").split(separator: "/").first.map(String.init) ?? ""
        let parts = hostPort.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw HTTPTestError.badURL(url) }
        let (stream, sink) = AsyncStream<HTTPReply>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ReplyCollector(sink: sink))
                }
            }
            .connect(host: String(parts[0]), port: port)
            .get()
        return HTTPTestClient(channel: channel, replies: stream, host: hostPort)
    }

    /// Sends one request and waits (at most 15 s) for its response; throws ``HTTPTestError/closed`` when the server
    /// closed the connection instead. With `chunked`, the body goes in chunks of 64 KiB without a Content-Length;
    /// with `noLength`, a POST without a body has no Content-Length either.
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                 chunked: Bool = false, noLength: Bool = false) async throws -> HTTPReply {
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if chunked {
            head.headers.add(name: "Transfer-Encoding", value: "chunked")
        } else if !noLength && (!body.isEmpty || method == "POST") {
            head.headers.add(name: "Content-Length", value: String(body.count))
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        var rest = body[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(chunked ? 64 << 10 : rest.count)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: chunk))), promise: nil)
            rest = rest.dropFirst(chunk.count)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let replies = self.replies
        return try await within(15, "an HTTP response to \(method) \(path)") {
            for await reply in replies { return reply }
            throw HTTPTestError.closed
        }
    }

    /// Whether the server has closed the connection (waits up to `seconds` for it).
    func closedByServer(within seconds: Double = 5) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while channel.isActive && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !channel.isActive
    }

    func close() async { try? await channel.close() }

    /// Opens a connection, sends one request and closes.
    static func send(_ url: String, _ method: String, _ path: String, headers: [(String, String)] = [],
                     body: [UInt8] = []) async throws -> HTTPReply {
        let client = try await connect(url)
        defer { Task { await client.close() } }
        return try await client.request(method, path, headers: headers, body: body)
    }
}

enum HTTPTestError: Error {
    case badURL(String)
    case closed
}

/// Gathers response parts into whole responses (informational `1xx` heads are skipped).
private final class ReplyCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let sink: AsyncStream<HTTPReply>.Continuation
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    init(sink: AsyncStream<HTTPReply>.Continuation) { self.sink = sink }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head) where head.status.code < 200: break
        case .head(let head): self.head = head; body = []
        case .body(let buffer): body += Array(buffer.readableBytesView)
        case .end:
            guard let head else { return }
            sink.yield(HTTPReply(status: Int(head.status.code), headers: head.headers.map { (name: $0.name, value: $0.value) }, body: body))
            self.head = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink.finish()
        context.fireChannelInactive()
    }
}
