import ChannelProtocol
import Foundation
import Infrastructure
import Logging
import NIOCore
import NIOWebSocket
import Shared

/// One device's WebSocket connection on the edge: decodes frames, runs ``DeviceSession`` and carries out its actions;
/// delivers the device's messages through its ``DeliveryWindow`` (see DeviceConnection+Delivery.swift).
///
/// Kafka and Redis work never blocks here. The hello's token check and route claim run as one task whose result comes
/// back to the event loop; everything after it (publishes, mailbox reads, route release) chains on futures that the
/// producer's and the Redis client's threads complete on this loop, with no task between. A message is acked to the
/// device only after its delivery report says the broker has it.
final class DeviceConnection: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let edge: EdgeContext
    /// The encoding this connection negotiated at upgrade; every frame both ways uses it.
    let encoding: FrameEncoding
    var session: DeviceSession
    var window: DeliveryWindow
    /// The channel, once added; used by the delivery path, which runs on its event loop.
    var channel: (any Channel)?
    private var lastHeard = NIODeadline.now()
    /// Every WebSocket message from the device takes a token; with none left the connection is closed with 4003.
    private var rate: TokenBucket
    /// When the hello must have been accepted, and when the next ping is due; checked by the loop's sweep.
    private var helloDeadline: NIODeadline
    private var nextPing: NIODeadline
    private let sweep: ConnectionSweep
    private var sweepSlot: Int?
    /// The device and session this connection registered (in ``ConnectedDevices`` and the Redis route), and the epoch
    /// of its claim, kept apart from the protocol state so that however the connection ends, what it registered is
    /// released and its `disconnect` event names the same epoch as its `connect`.
    private(set) var registered: (device: String, session: String, epoch: Int64)?
    /// Device messages handed to the producer and not yet reported delivered.
    private var publishing = 0
    private var reading = true
    /// Topic subscriptions (DeviceConnection+Topics.swift), their generation counter and this loop's subscriber table.
    var subscriptions: [String: TopicSubscription] = [:]
    var nextGeneration = 0
    var topicsOnLoop: LoopTopics?
    /// Refreshes of the token (DeviceConnection+Token.swift): their rate, made at the first one, and whether this
    /// grant's `refresh_due` went out.
    var refreshRate: TokenBucket?
    var refreshDueSent = false

    init(edge: EdgeContext, encoding: FrameEncoding, sweep: ConnectionSweep) {
        self.edge = edge
        self.encoding = encoding
        self.sweep = sweep
        helloDeadline = lastHeard + .seconds(Int64(edge.config.helloTimeoutSeconds))
        nextPing = lastHeard + .seconds(Int64(edge.config.heartbeatSeconds))
        self.session = DeviceSession(services: edge.config.services)
        self.window = DeliveryWindow(capacity: edge.config.deliveryWindow)
        self.rate = TokenBucket(rate: edge.config.limits.messagesPerSecond, burst: edge.config.limits.messageBurst,
                                now: lastHeard.uptimeNanoseconds)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        self.channel = channel
        let high = edge.config.outboundHighWaterBytes
        channel.setOption(.writeBufferWaterMark, value: .init(low: high / 4, high: high)).whenFailure { _ in }
        sweepSlot = sweep.add(self)
    }

    /// Called about once a second by the loop's sweep: closes a connection without an accepted hello past its
    /// deadline (4006), warns of and ends an expiring token (DeviceConnection+Token.swift), and pings the device every
    /// heartbeat, closing it (1001) when nothing came for two.
    /// - Parameter wallSeconds: the wall clock (Unix seconds), read once per sweep, for token expiry.
    func sweep(now: NIODeadline, wallSeconds: Double) {
        guard let channel else { return }
        if now >= helloDeadline && (session.state == .awaitingHello || session.state == .authenticating) {
            perform(session.close(ProtocolError(.helloRequired, "no hello in time"), .helloTimeout), channel: channel)
            return
        }
        guard checkToken(wallSeconds: wallSeconds, channel: channel) else { return }
        guard now >= nextPing else { return }
        let interval = TimeAmount.seconds(Int64(edge.config.heartbeatSeconds))
        nextPing = now + interval
        if now - lastHeard > interval * 2 {
            perform(session.close(nil, .goingAway), channel: channel)
        } else {
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(capacity: 0)), promise: nil)
        }
    }

    /// The edge is draining: asks the device to reconnect (to another edge) after `delayMs`, then closes with 4005.
    func drain(delayMs: Int) {
        guard let channel else { return }
        session.markClosed()
        channel.sendAndClose(.reconnect(delayMs: delayMs), as: encoding, code: .draining)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastHeard = .now()
        // Control frames count too: a ping flood costs the edge a pong each.
        guard rate.take(now: lastHeard.uptimeNanoseconds) else {
            if let action = session.close(nil, .tooFast) {
                edge.logger.debug("closing \(registered?.device ?? "a device before hello") with 4003: more than \(edge.config.limits.messagesPerSecond) messages/s")
                perform(action, channel: context.channel)
            }
            return
        }
        switch frame.opcode {
        case .text, .binary:
            edge.metrics.bytesIn.increment(by: Int64(frame.length))
            let decoded: Result<Frame, ProtocolError>
            if (frame.opcode == .binary) == encoding.usesBinaryMessages {
                let encoding = self.encoding
                decoded = Result { () throws(ProtocolError) -> Frame in try encoding.decode(Array(buffer: frame.unmaskedData)) }
            } else {
                let kind = frame.opcode == .binary ? "binary" : "text"
                decoded = .failure(ProtocolError(.badFrame, "a \(kind) message does not belong to this connection's encoding, \(encoding.subprotocol)"))
            }
            if let action = session.received(decoded) { perform(action, channel: context.channel) }
        case .ping:
            var payload = frame.unmaskedData
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload.readSlice(length: payload.readableBytes)!)), promise: nil)
        case .connectionClose:
            session.markClosed()
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.write(webSocketErrorCode: .normalClosure)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(context.channel)
        if context.channel.isWritable { resumePausedTopics() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let sweepSlot { sweep.remove(slot: sweepSlot) }
        sweepSlot = nil
        if let registered {
            edge.devices.remove(device: registered.device, session: registered.session)
            release(device: registered.device, session: registered.session)
            // Also when this connection was replaced or drained: the presence service ignores a disconnect whose
            // epoch is no longer the device's latest.
            edge.connectionEvents?.publish(.disconnect, device: registered.device, session: registered.session,
                                           epoch: registered.epoch, on: context.eventLoop)
        }
        registered = nil
        dropSubscriptions()
        session.markClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        edge.logger.debug("connection error: \(error)")
        if error is NIOWebSocketFrameAggregator.Error {
            // A fragmented message past the size or fragment limits: say so, as for a single oversized frame.
            session.markClosed()
            context.channel.sendAndClose(nil, code: .tooBig)
        } else if let error = error as? NIOWebSocketError {
            // The frame decoder's refusals (a frame over the size limit: 1009; a broken control frame: 1002), answered
            // here rather than by one more handler per connection.
            session.markClosed()
            context.channel.sendAndClose(nil, code: error == .invalidFrameLength ? .tooBig : .protocolError)
        } else {
            context.close(promise: nil)
        }
    }

    func perform(_ action: DeviceSession.Action?, channel: any Channel) {
        guard let action else { return }
        switch action {
        case .send(let frame):
            if case .error(let error) = frame { edge.metrics.refused(error.code) }
            channel.send(frame, as: encoding)
        case .sendAndClose(let frame, let code):
            if case .error(let error)? = frame { edge.metrics.refused(error.code) }
            channel.sendAndClose(frame, as: encoding, code: code)
        case .authenticate(let hello):
            authenticate(hello, channel: channel)
        case .publish(let message, let device, let session, let claims):
            publish(message, device: device, session: session, claims: claims, channel: channel)
        case .refresh(let token, let device):
            refresh(token: token, device: device, channel: channel)
        case .deviceAcked(let id, let device):
            deviceAcked(id, device: device)
        case .subscribe(let topic, let position):
            subscribe(topic, after: position)
        case .unsubscribe(let topic):
            unsubscribe(topic)
        }
    }

    private func authenticate(_ hello: Hello, channel: any Channel) {
        let edge = self.edge
        let sessionID = Self.newSessionID()
        // The one task a connection starts: jwt-kit checks tokens in async code (its key collection is an actor), so
        // the hello's check and route claim run as one task whose result comes back to the event loop.
        let checked = channel.eventLoop.makeFutureWithTask { () async throws -> (grant: DeviceGrant, epoch: Int64) in
            let grant: DeviceGrant
            do {
                grant = try await edge.tokens.verify(hello.token, device: hello.device)
            } catch {
                throw ProtocolError(.authFailed, (error as? TokenError)?.message ?? "token invalid")
            }
            guard !edge.revocations.revokes(grant) else { throw ProtocolError(.authFailed, "token revoked") }
            do {
                let started = ContinuousClock.now
                let (route, replaced) = try await edge.routes.claim(device: grant.device, edge: edge.config.edgeID, session: sessionID)
                edge.metrics.redisLatency.record(duration: .now - started)
                if let replaced, replaced.edge != edge.config.edgeID {
                    await Self.askToClose(replaced, device: grant.device, edge: edge)
                }
                return (grant, route.epoch)
            } catch {
                edge.metrics.redisErrors.increment()
                edge.logger.warning("cannot register \(grant.device): \(error)")
                throw ProtocolError(.unavailable, "device registry unavailable, try again later")
            }
        }
        checked.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let (grant, epoch)):
                edge.metrics.hello("ok")
                let welcome = Welcome(edge: edge.config.edgeID, session: sessionID,
                                      heartbeatSeconds: edge.config.heartbeatSeconds,
                                      maxMessageBytes: edge.config.maxMessageBytes,
                                      tokenExpiresAt: Int(grant.expiresAt.timeIntervalSince1970))
                // A revocation that arrived while the route was claimed: the follower checked the connections before
                // this one was among them.
                guard !edge.revocations.revokes(grant) else {
                    release(device: grant.device, session: sessionID)
                    edge.metrics.hello(ErrorCode.authFailed.rawValue)
                    perform(session.refused(ProtocolError(.authFailed, "token revoked")), channel: channel)
                    return
                }
                // The connection may have ended (or be ending) while the token and route were checked.
                guard channel.isActive, let welcomeAction = session.accepted(grant, session: sessionID, welcome: welcome) else {
                    release(device: grant.device, session: sessionID)
                    return
                }
                // Two connections of one device on this edge: the later claim in Redis (higher epoch) wins, whichever
                // finished first here, so the survivor is always the one the route names.
                switch edge.devices.add(device: grant.device, session: sessionID, epoch: epoch, channel: channel, handler: self) {
                case .added(let replaced):
                    registered = (grant.device, sessionID, epoch)
                    edge.connectionEvents?.publish(.connect, device: grant.device, session: sessionID, epoch: epoch,
                                                   on: channel.eventLoop)
                    replaced?.channel.sendAndClose(nil, code: .replaced)
                    perform(welcomeAction, channel: channel)
                    pump()
                    // A revocation put in force after the check above scanned the devices before this one was among
                    // them: checked again now that it is, so one of the two sees it.
                    closeIfRevoked(edge.revocations.current, now: Int64(Date().timeIntervalSince1970))
                case .outdated:
                    session.markClosed()
                    channel.sendAndClose(nil, code: .replaced)
                }
            case .failure(let error):
                let refusal = error as? ProtocolError ?? ProtocolError(.unavailable, "internal error, try again later")
                edge.metrics.hello(refusal.code.rawValue)
                perform(session.refused(refusal), channel: channel)
            }
        }
    }

    private func publish(_ message: Message, device: String, session: String, claims: [UInt8], channel: any Channel) {
        let config = edge.config
        let record = UpstreamRecord(
            device: device, service: message.service, id: message.id, payload: message.payload, edge: config.edgeID,
            session: session, receivedAtMs: Int64(Date().timeIntervalSince1970 * 1000), claims: claims
        ).record(topic: config.services.service(message.service)?.topic ?? config.topics.up(message.service))
        let id = message.id
        let topic = record.topic
        let metrics = edge.metrics
        let started = ContinuousClock.now
        metrics.frameIn(service: message.service)
        let delivered: EventLoopFuture<KafkaDelivery>
        do {
            delivered = try edge.publisher.send(record, on: channel.eventLoop)
        } catch {
            metrics.produceErrors.increment()
            metrics.refused(.unavailable)
            channel.send(.error(ProtocolError(.unavailable, "the edge cannot take messages now, send it again later", ref: id)), as: encoding)
            return
        }
        publishing += 1
        updateReading(channel)
        delivered.assumeIsolated().whenComplete { [self] result in
            metrics.produceLatency.record(duration: .now - started)
            publishing -= 1
            updateReading(channel)
            switch result {
            case .success:
                channel.send(.ack(id: id), as: encoding)
            case .failure(let error):
                let error = error as? KafkaError ?? KafkaError(code: -1, message: "\(error)", isRetriable: true)
                metrics.produceErrors.increment()
                edge.produceFailures.failed(error, topic: topic)
                metrics.refused(.unavailable)
                channel.send(.error(ProtocolError(.unavailable, "not delivered to the service: \(error.isRetriable ? "broker unavailable" : "rejected"), send it again", ref: id)), as: encoding)
            }
        }
    }

    /// Backpressure: reads from the device only while its acks can be written (it reads what the edge sends) and it
    /// has fewer than the allowed messages waiting for the broker, so no device can grow the edge's memory.
    func updateReading(_ channel: any Channel) {
        let read = channel.isWritable && publishing < edge.config.maxPublishesInFlight
        if read != reading {
            reading = read
            channel.setOption(.autoRead, value: read).whenFailure { _ in }
        }
    }

    /// Deletes the route if it still names this connection's session; on the event loop, with no task.
    private func release(device: String, session: String) {
        guard let channel else { return }
        let logger = edge.logger
        edge.routes.release(device: device, session: session, on: channel.eventLoop).whenFailure { error in
            logger.warning("cannot release the route of \(device): \(error)")
        }
    }

    static func newSessionID() -> String {
        var rng = SystemRandomNumberGenerator()
        return String(rng.next() as UInt64, radix: 36) + String(rng.next() as UInt32, radix: 36)
    }
}
