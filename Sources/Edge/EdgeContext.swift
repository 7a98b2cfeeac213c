import ChannelProtocol
import Logging
import NIOCore
import NIOWebSocket
import Shared

/// What every connection handler of one edge shares: configuration, clients and the local device table. The clients
/// are seen through small protocols (``RecordPublisher``, ``RouteRegistry``, ``MailboxReader``, ``DeviceAcks``,
/// ``NoticeSender``), so that the handlers also run in-process in tests.
final class EdgeContext: Sendable {
    let config: EdgeConfig
    /// Device messages to their services' topics, and reports of expired messages.
    let publisher: any RecordPublisher
    let routes: any RouteRegistry
    let mailbox: any MailboxReader
    /// Device acks on their way to the mailboxes, deleted in batches.
    let acks: any DeviceAcks
    /// Notices this edge sends to other edges (closing a connection a newer one replaced).
    let handoff: any NoticeSender
    let tokens: TokenAuthority
    let devices: ConnectedDevices
    let metrics: EdgeMetrics
    /// Why device messages did not reach the broker, logged at most every few seconds.
    let produceFailures: ProduceFailureLog
    /// Nil when connection events are turned off (`--no-connection-events`).
    let connectionEvents: ConnectionEventPublisher?
    /// Nil when the edge runs without the topic stream (in-process tests): subscribing is then `unavailable`.
    let topics: EdgeTopics?
    let logger: Logger

    init(config: EdgeConfig, publisher: any RecordPublisher, routes: any RouteRegistry, mailbox: any MailboxReader,
         acks: any DeviceAcks, handoff: any NoticeSender, tokens: TokenAuthority, devices: ConnectedDevices,
         metrics: EdgeMetrics, connectionEvents: ConnectionEventPublisher?, topics: EdgeTopics? = nil, logger: Logger) {
        self.config = config
        self.publisher = publisher
        self.routes = routes
        self.mailbox = mailbox
        self.acks = acks
        self.handoff = handoff
        self.tokens = tokens
        self.devices = devices
        self.metrics = metrics
        produceFailures = ProduceFailureLog(logger: logger)
        self.connectionEvents = connectionEvents
        self.topics = topics
        self.logger = logger
    }
}

extension WebSocketFrame {
    /// One whole WebSocket message carrying an encoded frame: text for JSON, binary for the binary encoding.
    init(message: ByteBuffer, _ encoding: FrameEncoding) {
        self.init(fin: true, opcode: encoding.usesBinaryMessages ? .binary : .text, data: message)
    }
}

extension Channel {
    /// Writes `frame` as one WebSocket message in the connection's `encoding` (text for JSON, binary for the binary
    /// encoding). Safe from any thread.
    func send(_ frame: Frame, as encoding: FrameEncoding) {
        writeAndFlush(WebSocketFrame(message: allocator.buffer(bytes: encoding.encode(frame)), encoding), promise: nil)
    }

    /// Writes an optional last frame, then a WebSocket close with `code`, then closes the connection.
    func sendAndClose(_ frame: Frame?, as encoding: FrameEncoding = .json, code: CloseCode) {
        if let frame { send(frame, as: encoding) }
        var data = allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: Int(code.rawValue)))
        let closed = writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        closed.whenComplete { _ in self.close(promise: nil) }
        // A device that does not read never lets the close frame out: do not wait for it forever.
        eventLoop.scheduleTask(in: .seconds(5)) { self.close(promise: nil) }
    }
}
