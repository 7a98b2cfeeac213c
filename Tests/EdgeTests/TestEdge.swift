import ChannelProtocol
import Foundation
import Infrastructure
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Shared
import TestDoubles
@testable import Edge

/// One edge in-process: its context over fakes (no network, Redis or broker), and device connections on testing
/// channels of one testing loop, as ``EdgeServer`` builds them after the WebSocket upgrade.
final class TestEdge: Sendable {
    static let id = "edge-1"
    let loop = NIOAsyncTestingEventLoop()
    let publisher = FakePublisher()
    let routes = FakeRoutes()
    let mailbox = FakeMailbox()
    let acks = FakeAcks()
    let handoff: FakeNoticeSender
    /// Verifies hellos with the development secret, and mints the tokens the tests' devices present.
    let tokens: TokenAuthority
    let devices = ConnectedDevices()
    let context: EdgeContext
    let sweep: ConnectionSweep

    /// - Parameter topicPartitions: with a number, the edge has topics (``EdgeTopics``) over a topic stream of that
    ///   many partitions, each read from offset 0, with no broker behind its log; without, subscribing is `unavailable`.
    init(topicPartitions: Int32? = nil, _ configure: (inout EdgeConfig) -> Void = { _ in }) async throws {
        var config = EdgeConfig(edgeID: Self.id)
        configure(&config)
        handoff = FakeNoticeSender(eventLoop: loop)
        tokens = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        let metrics = EdgeMetrics(services: Set(config.services.services.keys))
        var edgeTopics: EdgeTopics?
        if let topicPartitions {
            let log = TopicLog(budgetBytes: config.topicLogBytes)
            log.start(at: Dictionary(uniqueKeysWithValues: (0..<topicPartitions).map { ($0, Int64(0)) }))
            edgeTopics = EdgeTopics(log: log, hub: TopicHub(group: loop, metrics: metrics), replay: nil,
                                    maxPerConnection: config.maxTopicsPerConnection, window: config.topicReplayWindow)
        }
        context = EdgeContext(
            config: config, publisher: publisher, routes: routes, mailbox: mailbox, acks: acks, handoff: handoff,
            tokens: tokens, devices: devices, metrics: metrics,
            connectionEvents: ConnectionEventPublisher(producer: publisher, topics: config.topics, edgeID: config.edgeID),
            topics: edgeTopics, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        sweep = ConnectionSweep(eventLoop: loop)
    }

    var topics: Topics { context.config.topics }

    func token(for device: String) async throws -> String {
        try await tokens.mint(device: device, services: ["*"], ttl: .seconds(3600))
    }

    /// A connection just upgraded: a ``DeviceConnection`` on a connected channel. With `framing`, the WebSocket frame
    /// decoder, ``ClientFrameRules`` and the aggregator sit in front of it as in ``EdgeServer``, and the test writes
    /// bytes; without, it writes ``WebSocketFrame``s.
    func connect(encoding: FrameEncoding = .json, framing: Bool = false) async throws -> DeviceLine {
        let (context, sweep) = (self.context, self.sweep)
        let channel = try await NIOAsyncTestingChannel(loop: loop) { channel in
            if framing {
                let max = context.config.maxMessageBytes
                try channel.pipeline.syncOperations.addHandlers([
                    ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: max)), ClientFrameRules(),
                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                                                maxAccumulatedFrameSize: max),
                ])
            }
            try channel.pipeline.syncOperations.addHandler(DeviceConnection(edge: context, encoding: encoding, sweep: sweep))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40_000)).get()
        return DeviceLine(channel: channel, encoding: encoding)
    }

    /// A connection of `device` that said hello and was welcomed, its first mailbox read answered with `mailbox`
    /// (empty: the device is caught up). Returns the line and the session of its welcome.
    func welcomed(_ device: String, encoding: FrameEncoding = .json,
                  mailbox entries: [MailboxEntry] = []) async throws -> (line: DeviceLine, session: String) {
        let line = try await connect(encoding: encoding)
        try await line.send(.hello(Hello(device: device, token: token(for: device))))
        guard case .frame(.welcome(let welcome)) = try await line.next() else {
            throw LineError("no welcome for \(device)")
        }
        guard let read = mailbox.open.last, mailbox.reads[read].device == device else {
            throw LineError("no mailbox read at the hello of \(device)")
        }
        mailbox.answer(read, entries)
        await loop.run()
        return (line, welcome.session)
    }

    /// Hands `entry` to the connection of `device` as a router's notice does (HandoffSession): on its loop.
    func notice(_ entry: MailboxEntry, to device: String) async throws {
        try await onLoop { edge in
            guard let connection = edge.devices.find(device) else { throw LineError("\(device) is not connected") }
            connection.handler.value.notice(entry)
        }
    }

    /// Hands a `close` notice naming `session` to the connection of `device` (a takeover on another edge).
    func closeNotice(_ device: String, session: String) async throws {
        try await onLoop { edge in
            guard let connection = edge.devices.find(device) else { throw LineError("\(device) is not connected") }
            connection.handler.value.replaced(session: session)
        }
    }

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (TestEdge) throws -> T) async throws -> T {
        try await loop.executeInContext { try body(self) }
    }

    /// The connection events published, decoded, in order.
    func connectionEvents() throws -> [ConnectionEvent] {
        try publisher.records(on: topics.connections).map {
            guard case .connection(let event) = try ConnectionEventRecord(record: consumed($0)) else {
                throw LineError("not a connection event")
            }
            return event
        }
    }

    /// Ends `line` as the test ends: closes it if it is still open, then fails what the fakes still hold and lets
    /// the loop run it. Returns whether the test read everything the connection wrote.
    func end(_ line: DeviceLine) async throws -> NIOAsyncTestingChannel.LeftOverState {
        let state = try await line.channel.finish(acceptAlreadyClosed: true)
        publisher.deliverAll(.failure(LeftOpen()))
        for read in mailbox.open { mailbox.fail(read) }
        for batch in handoff.open { handoff.complete(batch) }
        await loop.run()
        return state
    }
}

/// `record` as a consumer receives it.
func consumed(_ record: OutgoingRecord) -> KafkaRecord {
    KafkaRecord(topic: record.topic, partition: 0, offset: 0, key: record.key, value: record.value, headers: record.headers,
                timestampMs: 0)
}

/// A mailbox entry of `echo` with seq `seq` and id `m<seq>`, expiring in an hour unless told.
func entry(_ seq: Int64, expiresAtMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000) -> MailboxEntry {
    MailboxEntry(seq: seq, id: "m\(seq)", service: "echo", contentType: "application/json", expiresAtMs: expiresAtMs,
                 payload: Array("\(seq)".utf8))
}

struct LineError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
