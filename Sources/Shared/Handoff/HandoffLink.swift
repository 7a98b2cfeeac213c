import Lifecycle
import Logging
import NIOCore
import NIOPosix

/// One ``HandoffClient`` connection to one edge: the batches not yet acked, in order, and the connection they go
/// out on. All state is touched on `eventLoop` only (callers hop there), hence `@unchecked Sendable`.
final class HandoffLink: @unchecked Sendable {
    private struct Batch {
        let number: UInt64
        let notices: [HandoffNotice]
        let completion: @Sendable (HandoffOutcome) -> Void
        let giveUpAt: NIODeadline
        /// When it was last written, on the connection now open; nil while it waits for one.
        var sentAt: NIODeadline?
    }

    private enum State {
        case idle
        /// Connecting, or connected and waiting for the edge's welcome.
        case connecting((any Channel)?)
        case ready(any Channel)
    }

    let edge: String
    let eventLoop: any EventLoop
    private unowned let client: HandoffClient
    private var target: EdgeRecord?
    private var state: State = .idle
    private var pending: [Batch] = []
    private var nextBatch: UInt64 = 1
    private var retryAt: NIODeadline = .now()
    private var backoff: TimeAmount = .milliseconds(50)
    private var helloSentAt: NIODeadline?
    private var lastUsed: NIODeadline = .now()
    private var connectFailures = 0
    /// Taken out of the client's table after a minute unused; a later batch puts it back (or goes to its successor).
    private var forgotten = false
    /// Notices of batches given up, for the edge process `overdueInstance`: sent once more, without a completion,
    /// when that process answers again, so a device that stayed connected to it gets them without waiting for a later
    /// notice. Bounded in count and age; dropped when the edge turns out to be another process.
    private var overdue: [HandoffNotice] = []
    private var overdueInstance: String?
    private var overdueSince: NIODeadline = .now()
    static let maxOverdue = 100_000
    static let overdueLifetime: TimeAmount = .minutes(5)

    init(edge: String, client: HandoffClient, eventLoop: any EventLoop) {
        self.edge = edge
        self.client = client
        self.eventLoop = eventLoop
    }

    func enqueue(_ notices: [HandoffNotice], target record: EdgeRecord,
                 completion: @escaping @Sendable (HandoffOutcome) -> Void) {
        eventLoop.execute { [self] in
            if forgotten {
                forgotten = false
                if let successor = client.remember(self) {
                    return successor.enqueue(notices, target: record, completion: completion)
                }
            }
            lastUsed = .now()
            if target != record {
                if record.instance != overdueInstance { dropOverdue() }
                // The edge moved or restarted: what is open goes to its old address or process.
                let moved = target.map { $0.host != record.host || $0.port != record.port } ?? false
                target = record
                if moved { dropConnection() }
            }
            let giveUp = NIODeadline.now() + client.settings.giveUpAfter.timeAmount
            pending.append(Batch(number: nextBatch, notices: notices, completion: completion, giveUpAt: giveUp))
            nextBatch += 1
            switch state {
            case .ready(let channel): write(from: pending.count - 1, on: channel)
            case .idle: connectIfDue()
            case .connecting: break
            }
        }
    }

    /// Every 100 ms: give up batches past their time, drop a connection that stopped acking, reconnect when due.
    func tick() {
        eventLoop.execute { [self] in
            let now = NIODeadline.now()
            let expired = pending.filter { $0.giveUpAt <= now }
            if !expired.isEmpty {
                pending.removeAll { $0.giveUpAt <= now }
                client.logger.warning("hand-off to \(edge) gave up \(expired.count) batches: not acked in \(client.settings.giveUpAfter); their messages wait in the mailboxes, and go again if this edge process answers")
                keepOverdue(expired.flatMap(\.notices))
                for batch in expired { batch.completion(.abandoned("edge \(edge) did not ack in \(client.settings.giveUpAfter)")) }
                // A connection that left batches unacked that long is stuck: later batches must not go into it.
                if case .ready = state { failed("gave up on \(expired.count) batches") }
            }
            if !overdue.isEmpty && now - overdueSince > Self.overdueLifetime { dropOverdue() }
            let ackTimeout = client.settings.ackTimeout.timeAmount
            switch state {
            case .ready:
                if let oldest = pending.first?.sentAt, now - oldest > ackTimeout {
                    failed("no ack for \(client.settings.ackTimeout)")
                }
            case .connecting:
                if let helloSentAt, now - helloSentAt > ackTimeout {
                    failed("no welcome for \(client.settings.ackTimeout)")
                }
            case .idle:
                if !pending.isEmpty || !overdue.isEmpty {
                    connectIfDue()
                } else if !forgotten && now - lastUsed > .seconds(60) {
                    forgotten = true
                    client.forget(self)
                }
            }
        }
    }

    func shutdown() {
        eventLoop.execute { [self] in
            let all = pending
            pending = []
            dropConnection()
            for batch in all { batch.completion(.abandoned("hand-off client closed")) }
        }
    }

    private func connectIfDue() {
        guard case .idle = state, let target, NIODeadline.now() >= retryAt else { return }
        state = .connecting(nil)
        helloSentAt = .now()
        let timeout = client.settings.connectTimeout.timeAmount
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(HandoffFrameDecoder()),
                        MessageToByteHandler(HandoffFrameEncoder()),
                        HandoffLinkHandler(link: self),
                    ])
                }
            }
            .connect(host: target.host, port: target.port)
            .hop(to: eventLoop)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard case .connecting(nil) = state else { return channel.close(promise: nil) }
                    state = .connecting(channel)
                    helloSentAt = .now()
                    channel.writeAndFlush(HandoffFrame.hello(version: HandoffFrame.version, edge: edge, sender: client.sender,
                                                            secret: client.settings.secret),
                                          promise: nil)
                case .failure(let error):
                    guard case .connecting(nil) = state else { return }
                    failed("cannot connect to \(target.host):\(target.port): \(error)")
                }
            }
    }

    /// The edge answered the hello.
    func welcomed(edge answered: String, instance: String, on channel: any Channel) {
        guard case .connecting(let current?) = state, current === channel else { return }
        guard answered == edge else {
            failed("\(target.map { "\($0.host):\($0.port)" } ?? "?") is edge \(answered), not \(edge)")
            return channel.close(promise: nil)
        }
        if connectFailures > 0 { client.logger.info("hand-off to \(edge) connected again after \(connectFailures) failures") }
        connectFailures = 0
        backoff = .milliseconds(50)
        helloSentAt = nil
        state = .ready(channel)
        if !overdue.isEmpty {
            if instance == overdueInstance {
                // First, so that each device's overdue notices come before its newer ones.
                let giveUp = NIODeadline.now() + client.settings.giveUpAfter.timeAmount
                let again = HandoffClient.split(overdue).map { notices in
                    defer { nextBatch += 1 }
                    return Batch(number: nextBatch, notices: notices, completion: { _ in }, giveUpAt: giveUp)
                }
                client.logger.info("hand-off to \(edge): sending \(overdue.count) notices it missed again")
                pending.insert(contentsOf: again, at: 0)
            }
            dropOverdue()
        }
        if !pending.isEmpty { write(from: 0, on: channel) }
    }

    func acked(_ number: UInt64, on channel: any Channel) {
        guard case .ready(let current) = state, current === channel,
              let index = pending.firstIndex(where: { $0.number == number }) else { return }
        let batch = pending.remove(at: index)
        batch.completion(.handedOff)
    }

    /// The connection ended (closed by either side, reset, or an error frame).
    func ended(_ channel: any Channel, why: String) {
        switch state {
        case .ready(let current) where current === channel, .connecting(let current?) where current === channel:
            failed(why)
        default:
            break
        }
    }

    private func keepOverdue(_ notices: [HandoffNotice]) {
        guard let instance = target?.instance else { return }
        if overdueInstance != instance { dropOverdue() }
        if overdue.isEmpty { overdueSince = .now() }
        overdueInstance = instance
        overdue += notices
        if overdue.count > Self.maxOverdue { overdue.removeFirst(overdue.count - Self.maxOverdue) }
    }

    private func dropOverdue() {
        overdue = []
        overdueInstance = nil
    }

    private func write(from start: Int, on channel: any Channel) {
        let now = NIODeadline.now()
        for i in start..<pending.count {
            pending[i].sentAt = now
            channel.write(HandoffFrame.notices(batch: pending[i].number, pending[i].notices), promise: nil)
        }
        channel.flush()
    }

    private func failed(_ why: String) {
        connectFailures += 1
        // Once at first, then about once a minute at the capped backoff.
        let level: Logger.Level = connectFailures % 60 == 1 && !pending.isEmpty ? .warning : .debug
        client.logger.log(level: level, "hand-off to \(edge): \(why) (\(pending.count) batches wait, retrying)")
        dropConnection()
        retryAt = .now() + backoff
        backoff = min(backoff * 2, .seconds(1))
    }

    private func dropConnection() {
        switch state {
        case .ready(let channel), .connecting(let channel?): channel.close(promise: nil)
        case .connecting(nil), .idle: break
        }
        state = .idle
        helloSentAt = nil
        for i in pending.indices { pending[i].sentAt = nil }
    }
}

/// Reads what the edge answers on a ``HandoffLink``'s connection.
final class HandoffLinkHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HandoffFrame
    private let link: HandoffLink

    init(link: HandoffLink) {
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = context.channel
        switch unwrapInboundIn(data) {
        case .welcome(let edge, let instance): link.welcomed(edge: edge, instance: instance, on: channel)
        case .ack(let batch): link.acked(batch, on: channel)
        case .error(let message):
            link.ended(channel, why: "the edge said: \(message)")
            context.close(promise: nil)
        case .hello, .notices, .drain:
            link.ended(channel, why: "the edge sent a frame only senders send")
            context.close(promise: nil)
        case .closed:
            // Only for batches holding disconnect notices, which operators' controls send on connections of their
            // own (HandoffExchange), never through a link; the ack that follows is what the link waits for.
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.ended(context.channel, why: "connection closed")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        link.ended(context.channel, why: "\(error)")
        context.close(promise: nil)
    }
}
