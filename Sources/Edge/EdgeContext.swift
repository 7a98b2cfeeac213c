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
    /// The revocations in force, kept current by the edge's ``RevocationFollower``.
    let revocations: EdgeRevocations
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
         metrics: EdgeMetrics, connectionEvents: ConnectionEventPublisher?, topics: EdgeTopics? = nil,
         revocations: EdgeRevocations = EdgeRevocations(), logger: Logger) {
        self.config = config
        self.publisher = publisher
        self.routes = routes
        self.mailbox = mailbox
        self.acks = acks
        self.handoff = handoff
        self.tokens = tokens
        self.revocations = revocations
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

    /// Writes an optional last frame, then a WebSocket close with `code`, then closes the connection once the device
    /// has closed its side, or 1 s after the close frame left (5 s at most when it cannot leave).
    func sendAndClose(_ frame: Frame?, as encoding: FrameEncoding = .json, code: CloseCode) {
        sendAndClose(frame, as: encoding, codeNumber: code.rawValue)
    }

    /// ``sendAndClose(_:as:code:)`` with any close code number (an operator's choice, ``CloseCode/isOperatorChoosable(_:)``).
    func sendAndClose(_ frame: Frame?, as encoding: FrameEncoding = .json, codeNumber: UInt16) {
        if let frame { send(frame, as: encoding) }
        var data = allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: Int(codeNumber)))
        let closed = writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        // The device closes first once it has read the close frame (or answers it, which the connection handler takes
        // as the end). Closing here at once would lose the frame whenever the device is still sending: a socket closed
        // with unread input resets the connection, and a reset discards what the device had not read yet, so a flooding
        // device saw a bare reset instead of 4003. Input that comes meanwhile is read and dropped.
        closed.whenComplete { _ in self.eventLoop.scheduleTask(in: .seconds(1)) { self.close(promise: nil) } }
        // A device that does not read never lets the close frame out: do not wait for it forever.
        eventLoop.scheduleTask(in: .seconds(5)) { self.close(promise: nil) }
    }
}
