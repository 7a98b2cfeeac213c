import ChannelProtocol
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket

/// A device's end of the channel: one WebSocket to an edge, speaking protocol v1 in the JSON or the binary encoding.
///
/// Guarantees: ``send(service:payload:id:)`` returns only when the edge acked the message (the broker has it) and
/// throws when the edge refused it or the connection ended first; incoming messages are acked automatically
/// (unless `autoAck` is off) and a message id seen in the last 4,096 is not yielded twice.
///
/// Nothing is acked on a connection whose hello the caller gave up on (timed out or cancelled) or that is closing: an
/// ack takes the message out of the device's mailbox, so it must only ever answer a message the caller can still read.
/// A welcome that comes after its hello was given up on closes the connection.
public final class DeviceClient: @unchecked Sendable {
    /// Everything the edge sent, in order, for callers that want the raw conversation (tests, tools).
    public enum Event: Sendable, Equatable {
        case frame(Frame)
        /// A text message that was not a valid frame.
        case undecodable(String)
        /// The connection ended; `code` is the close code the edge sent, if any.
        case closed(code: UInt16?)
    }

    /// Why a call failed.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notUpgraded(status: Int)
        case refused(ProtocolError)
        case closed(code: UInt16?)
        case timedOut

        public var description: String {
            switch self {
            case .notUpgraded(let status): return "the edge answered HTTP \(status) instead of upgrading"
            case .refused(let e): return "refused: \(e.code.rawValue): \(e.message)"
            case .closed(let code): return "connection closed (\(code.map(String.init) ?? "no close code"))"
            case .timedOut: return "timed out"
            }
        }
    }

    /// Everything the edge sent; without an observer (see ``connect(to:encoding:subprotocols:localAddress:tls:group:observer:)``).
    /// With one, only ``Event/closed(code:)`` arrives here.
    public let events: AsyncStream<Event>
    /// Messages from services, duplicates removed; with an observer, nothing arrives here.
    public let messages: AsyncStream<Message>
    /// Messages and gaps of the topics this connection subscribed to, in arrival order; with an observer, nothing
    /// arrives here.
    public let topicEvents: AsyncStream<TopicDelivery>
    /// The `exp` of every `refresh_due` the edge sends: the connection's token expires then (Unix seconds), and a
    /// ``refresh(token:timeout:)`` must come before, or the edge closes the connection (4008) after its grace. With an
    /// observer, nothing arrives here.
    public let refreshDue: AsyncStream<Int>
    public var autoAck = true
    /// The encoding the edge answered at upgrade.
    public let encoding: FrameEncoding

    let channel: any Channel
    /// Sees every frame from the edge on the event loop, instead of the streams: for load generators that must not
    /// buffer what they do not read.
    private let observer: (@Sendable (Frame) -> Void)?
    private let eventSink: AsyncStream<Event>.Continuation
    private let messageSink: AsyncStream<Message>.Continuation
    private let topicSink: AsyncStream<TopicDelivery>.Continuation
    private let refreshDueSink: AsyncStream<Int>.Continuation
    let state = NIOLockedValueBox(State())

    struct State {
        var pendingSends: [String: CheckedContinuation<Void, any Error>] = [:]
        /// `sub` and `unsub` waiting for their answer, by topic.
        var topicWaiters: [String: CheckedContinuation<Void, any Error>] = [:]

        /// Sets (or with nil removes) the waiter for `answer`; returns the one it replaces.
        @discardableResult
        mutating func waiters(_ answer: Answer, _ waiter: CheckedContinuation<Void, any Error>?) -> CheckedContinuation<Void, any Error>? {
            switch answer {
            case .send(let id):
                defer { pendingSends[id] = waiter }
                return pendingSends[id]
            case .topic(let topic):
                defer { topicWaiters[topic] = waiter }
                return topicWaiters[topic]
            }
        }
        var helloWaiter: CheckedContinuation<Welcome, any Error>?
        /// The welcome handed to the caller of ``hello(device:token:timeout:)``.
        var welcome: Welcome?
        /// The caller gave up on the hello, or ``close()`` began: nothing more is acked.
        var abandoned = false
        var recentIDs: Set<String> = []
        var recentOrder: [String] = []
        var closedCode: UInt16??
        var closedAt: ContinuousClock.Instant?
        var nextID = 0
        var received = 0
        var reconnectDelayMs: Int?
        /// When the connection's token expires (Unix seconds), as the welcome, `refreshed` or `refresh_due` said.
        var tokenExpiresAt: Int?
        /// Callers of ``refresh(token:timeout:)`` in the order their frames went out; the edge answers in that order.
        /// A caller that gave up (timed out, cancelled) leaves its entry without a continuation, so that the answer
        /// meant for it is not taken for the next caller's.
        var refreshWaiters: [(id: Int, continuation: CheckedContinuation<Int, any Error>?)] = []
    }

    /// The delay of the edge's `reconnect` frame, if it sent one: the edge is draining and asks the device to connect
    /// again, to another edge, after this long.
    public var requestedReconnectDelay: Duration? {
        state.withLockedValue { $0.reconnectDelayMs.map { .milliseconds($0) } }
    }

    /// How many `msg` frames arrived on this connection, duplicates included.
    public var receivedMessages: Int { state.withLockedValue { $0.received } }

    /// When the connection's token expires (Unix seconds): from the welcome, then from each `refreshed`; nil when the
    /// edge did not say.
    public var tokenExpiresAt: Int? { state.withLockedValue { $0.tokenExpiresAt } }

    init(channel: any Channel, encoding: FrameEncoding, observer: (@Sendable (Frame) -> Void)?) {
        self.channel = channel
        self.encoding = encoding
        self.observer = observer
        (events, eventSink) = AsyncStream.makeStream()
        (messages, messageSink) = AsyncStream.makeStream()
        (topicEvents, topicSink) = AsyncStream.makeStream()
        (refreshDue, refreshDueSink) = AsyncStream.makeStream()
    }

    /// Opens a WebSocket to `url` (`ws://host:port/v1/channel`, or `wss://` for TLS).
    /// - Parameters:
    ///   - encoding: the encoding to offer; the connection speaks what the edge answers.
    ///   - subprotocols: what to offer instead of `encoding`'s subprotocol (for testing the edge's negotiation).
    ///   - localAddress: the local IP to connect from (for example 127.0.0.2, to spread a load test over source
    ///     addresses); nil lets the system choose.
    ///   - tls: for a `wss://` URL, which certificates to trust and which name to expect; nil means
    ///     ``ClientTLS/system``. Reuse one value for many connections: its TLS context is built once. Not used for
    ///     `ws://`.
    ///   - observer: if given, sees every frame from the edge on the event loop, and the streams stay empty but for
    ///     the close event.
    /// - Throws: ``Failure/notUpgraded(status:)`` when the edge answers plain HTTP (or `url` is neither `ws://` nor
    ///   `wss://`); ``ClientTLS/UnusableTrustRoots`` when `tls`'s trust roots file cannot be read; NIOSSL's error
    ///   when the edge's certificate is not trusted or names neither the expected host nor the address connected to.
    public static func connect(
        to url: String, encoding: FrameEncoding = .json, subprotocols: [String]? = nil, localAddress: String? = nil,
        tls: ClientTLS? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        observer: (@Sendable (Frame) -> Void)? = nil
    ) async throws -> DeviceClient {
        try await WebSocketConnector.connect(url: url, subprotocols: subprotocols ?? [encoding.subprotocol],
                                             localAddress: localAddress, tls: tls, group: group, observer: observer)
    }

    /// Says hello and waits for the welcome.
    /// - Throws: ``Failure/refused(_:)`` with the edge's error (for example `auth_failed`), or `closed`.
    public func hello(device: String, token: String, timeout: Duration = .seconds(10)) async throws -> Welcome {
        do {
            try Task.checkCancellation()
            return try await withTimeout(timeout) {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        // Cancelled before waiting (the handler below found no waiter): no hello at all.
                        let givenUp = self.state.withLockedValue { s -> Bool in
                            if !s.abandoned { s.helloWaiter = continuation }
                            return s.abandoned
                        }
                        if givenUp {
                            continuation.resume(throwing: Failure.timedOut)
                        } else {
                            self.send(frame: .hello(Hello(device: device, token: token)))
                        }
                    }
                } onCancel: {
                    self.state.withLockedValue { s in
                        defer { s.helloWaiter = nil }
                        if s.welcome == nil { s.abandoned = true }
                        return s.helloWaiter
                    }?.resume(throwing: Failure.timedOut)
                }
            }
        } catch {
            // A welcome that raced the timeout stands: the edge already delivers this device's mailbox here, so the
            // caller must take this connection. Otherwise the connection is given up on and acks nothing more.
            let welcome = state.withLockedValue { s -> Welcome? in
                if s.welcome == nil { s.abandoned = true }
                return s.welcome
            }
            if let welcome { return welcome }
            throw error
        }
    }

    /// Sends a message to `service` and returns when the edge acks it.
    /// - Returns: the message id (generated when `id` is nil).
    @discardableResult
    public func send(service: String, payload: Payload, id: String? = nil, timeout: Duration = .seconds(10)) async throws -> String {
        let id = id ?? state.withLockedValue { s in s.nextID += 1; return "m-\(s.nextID)-\(UInt32.random(in: 0...UInt32.max))" }
        try await sendAndAwait(.msg(Message(service: service, id: id, payload: payload)), answer: .send(id), timeout: timeout)
        return id
    }

    /// What a frame sent with ``sendAndAwait(_:answer:timeout:)`` waits for: the ack of a message id, or the answer
    /// about a topic (the two are kept apart, since a message id may look like a topic name).
    enum Answer {
        case send(String)
        case topic(String)
    }

    /// Sends `frame` and returns when its answer comes; throws the edge's refusal, ``Failure/closed(code:)`` when the
    /// connection ends first, or ``Failure/timedOut``.
    func sendAndAwait(_ frame: Frame, answer: Answer, timeout: Duration) async throws {
        try await withTimeout(timeout) {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let closed = self.state.withLockedValue { s -> UInt16?? in
                        if s.closedCode == nil { s.waiters(answer, continuation) }
                        return s.closedCode
                    }
                    if let closed { continuation.resume(throwing: Failure.closed(code: closed)); return }
                    self.send(frame: frame)
                }
            } onCancel: {
                self.state.withLockedValue { $0.waiters(answer, nil) }?.resume(throwing: Failure.timedOut)
            }
        }
    }

    /// Sends a JSON body (given as JSON text) to `service`.
    @discardableResult
    /// - Throws: ``Failure/refused(_:)`` with `bad_frame`, without sending, when `json` is not one JSON value.
    public func send(service: String, json: String, id: String? = nil) async throws -> String {
        let bytes = Array(json.utf8)
        guard JSONScanner.isValidValue(bytes) else { throw Failure.refused(ProtocolError(.badFrame, "body is not JSON")) }
        return try await send(service: service, payload: .json(bytes), id: id)
    }

    /// Acks a message from a service (done automatically when `autoAck` is on).
    public func ack(_ id: String) { send(frame: .ack(id: id)) }

    /// Writes any frame in the connection's encoding, without waiting for an answer.
    public func send(frame: Frame) {
        let bytes = encoding.encode(frame)
        if encoding.usesBinaryMessages { sendBinary(bytes) } else { sendText(bytes) }
    }

    /// Writes a raw text message (for testing how the edge treats bad input).
    public func sendText(_ bytes: [UInt8]) { write(bytes, opcode: .text) }

    /// Writes a raw binary message (for testing how the edge treats bad input).
    public func sendBinary(_ bytes: [UInt8]) { write(bytes, opcode: .binary) }

    private func write(_ bytes: [UInt8], opcode: WebSocketOpcode) {
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: buffer), promise: nil)
    }

    public func sendText(_ text: String) { sendText(Array(text.utf8)) }

    /// Stops (or resumes) reading from the socket, as a device that stalls would: what the edge sends piles up.
    public func pauseReading(_ paused: Bool = true) {
        channel.setOption(.autoRead, value: !paused).whenFailure { _ in }
    }

    /// Closes the connection normally.
    public func close() async {
        state.withLockedValue { $0.abandoned = true }
        var data = channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)).get()
        try? await channel.close()
    }

    /// When the connection ended, as the event loop saw it (nil while open): unlike the time a waiting task resumes,
    /// it does not include how long a busy process took to run that task.
    public var closedAt: ContinuousClock.Instant? { state.withLockedValue { $0.closedAt } }

    /// Waits until the connection ends and returns the edge's close code.
    public func closeCode(timeout: Duration = .seconds(10)) async throws -> UInt16? {
        try await withTimeout(timeout) {
            for await event in self.events { if case .closed(let code) = event { return code } }
            return self.state.withLockedValue { $0.closedCode ?? nil }
        }
    }

    // MARK: - Called by the connection handler on the event loop

    func received(_ bytes: [UInt8]) {
        let frame: Frame
        do {
            frame = try encoding.decode(bytes)
        } catch {
            if observer == nil { eventSink.yield(.undecodable(String(decoding: bytes, as: UTF8.self))) }
            return
        }
        if let observer { observer(frame) } else { eventSink.yield(.frame(frame)) }
        switch frame {
        case .welcome(let welcome):
            let (waiter, abandoned) = state.withLockedValue { s -> (CheckedContinuation<Welcome, any Error>?, Bool) in
                defer { s.helloWaiter = nil }
                s.tokenExpiresAt = welcome.tokenExpiresAt
                if s.abandoned { return (nil, true) }
                if s.helloWaiter != nil { s.welcome = welcome }
                return (s.helloWaiter, false)
            }
            waiter?.resume(returning: welcome)
            // Nobody waits for this session any more: end it, acking nothing the edge sends after the welcome.
            if abandoned { Task { await self.close() } }
        case .ack(let id):
            state.withLockedValue { $0.pendingSends.removeValue(forKey: id) }?.resume()
        case .error(let error) where error.ref == ProtocolError.refreshRef && error.code == .authFailed:
            // Only a refused `refresh` is answered with auth_failed and this ref (a message never is).
            state.withLockedValue { s in s.refreshWaiters.isEmpty ? nil : s.refreshWaiters.removeFirst() }?
                .continuation?.resume(throwing: Failure.refused(error))
        case .error(let error):
            let waiter = state.withLockedValue { s -> CheckedContinuation<Void, any Error>? in
                error.ref.flatMap { s.pendingSends.removeValue(forKey: $0) ?? s.topicWaiters.removeValue(forKey: $0) }
            }
            if let waiter {
                waiter.resume(throwing: Failure.refused(error))
            } else if let hello = state.withLockedValue({ s -> CheckedContinuation<Welcome, any Error>? in
                defer { s.helloWaiter = nil }
                return s.helloWaiter
            }) {
                hello.resume(throwing: Failure.refused(error))
            }
        case .msg(let message):
            let fresh = state.withLockedValue { s -> Bool in
                s.received += 1
                guard s.recentIDs.insert(message.id).inserted else { return false }
                s.recentOrder.append(message.id)
                if s.recentOrder.count > 4096 { s.recentIDs.remove(s.recentOrder.removeFirst()) }
                return true
            }
            if fresh && observer == nil { messageSink.yield(message) }
            if autoAck && !state.withLockedValue({ $0.abandoned }) { ack(message.id) }
        case .reconnect(let delayMs):
            state.withLockedValue { $0.reconnectDelayMs = max(0, delayMs) }
        case .subscribed(let topic), .unsubscribed(let topic):
            state.withLockedValue { $0.topicWaiters.removeValue(forKey: topic) }?.resume()
        case .event(let event):
            if observer == nil { topicSink.yield(.event(event)) }
        case .gap(let topic, let position):
            if observer == nil { topicSink.yield(.gap(topic: topic, position: position)) }
        case .refreshed(let expiresAt):
            state.withLockedValue { s in
                s.tokenExpiresAt = expiresAt
                return s.refreshWaiters.isEmpty ? nil : s.refreshWaiters.removeFirst()
            }?.continuation?.resume(returning: expiresAt)
        case .refreshDue(let expiresAt):
            state.withLockedValue { $0.tokenExpiresAt = expiresAt }
            if observer == nil { refreshDueSink.yield(expiresAt) }
        case .hello, .subscribe, .unsubscribe, .refresh:
            break
        }
    }

    func ended(code: UInt16?) {
        let (sends, hello, refreshes) = state.withLockedValue { s in
            if s.closedCode == nil { s.closedCode = .some(code); s.closedAt = .now }
            defer { s.pendingSends = [:]; s.topicWaiters = [:]; s.helloWaiter = nil; s.refreshWaiters = [] }
            return (Array(s.pendingSends.values) + Array(s.topicWaiters.values), s.helloWaiter, s.refreshWaiters)
        }
        sends.forEach { $0.resume(throwing: Failure.closed(code: code)) }
        hello?.resume(throwing: Failure.closed(code: code))
        refreshes.forEach { $0.continuation?.resume(throwing: Failure.closed(code: code)) }
        eventSink.yield(.closed(code: code))
        eventSink.finish()
        messageSink.finish()
        topicSink.finish()
        refreshDueSink.finish()
    }
}

/// Runs `body`, throwing ``DeviceClient/Failure/timedOut`` if it takes longer than `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw DeviceClient.Failure.timedOut
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
