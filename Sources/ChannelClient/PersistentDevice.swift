import ChannelProtocol
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A device that stays connected: it reconnects after any loss with jittered exponential backoff, trying the edges it
/// knows in turn, says hello again, and drops duplicate messages across connections. When a draining edge sends
/// `reconnect` and closes with 4005, it waits the frame's delay instead and connects to the next edge.
///
/// Guarantees: every message a service sent reaches `messages` at least once while its TTL lasts (the gateway keeps
/// it in the mailbox until acked, and messages are acked automatically once yielded), in order, and an id seen in the
/// last 16,384 messages is never yielded twice. It stops reconnecting when its token is refused (4001) or another
/// connection of the same device takes over (4004).
///
/// Topics (``subscribe(topic:after:)``): it remembers the last position yielded per topic and, on every new
/// connection, subscribes again from there, so `topicDeliveries` gets every message of the topic at least once, in
/// order, or a `gap` where the gateway's history no longer covers what was missed; a message at or before a position
/// already yielded is never yielded again.
public final class PersistentDevice: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        case connected(edge: String, session: String)
        case disconnected(code: UInt16?)
        case stopped(reason: String)
        /// A subscription made again on a new connection was refused; the topic is forgotten.
        case topicRefused(topic: String, error: ProtocolError)
    }

    public let device: String
    public let messages: AsyncStream<Message>
    public let events: AsyncStream<Event>
    /// Messages and gaps of the subscribed topics, across connections.
    public let topicDeliveries: AsyncStream<TopicDelivery>

    private let urls: [String]
    private let token: @Sendable () async throws -> String
    private let minBackoff: Duration
    private let maxBackoff: Duration
    private let group: any EventLoopGroup
    private let encoding: FrameEncoding
    private let localAddress: String?
    private let tls: ClientTLS?
    private let messageSink: AsyncStream<Message>.Continuation
    let eventSink: AsyncStream<Event>.Continuation
    let topicSink: AsyncStream<TopicDelivery>.Continuation
    let state = NIOLockedValueBox(State())
    private var loop: Task<Void, Never>?

    struct State {
        /// The subscribed topics and the last position yielded of each (nil: none yet).
        var topics: [String: TopicPosition?] = [:]
        var client: DeviceClient?
        var seen = Set<String>()
        var seenOrder: [String] = []
        var stopped = false
        var duplicates = 0
        var connections = 0
    }

    /// Messages that arrived again (same id) and were dropped, across all connections.
    public var duplicatesDropped: Int { state.withLockedValue { $0.duplicates } }

    /// How many times a hello was accepted.
    public var connections: Int { state.withLockedValue { $0.connections } }

    /// - Parameters:
    ///   - urls: edges to try, in turn (a load balancer's one address is fine).
    ///   - token: called before every hello, so an expiring token can be renewed.
    ///   - encoding: the protocol encoding to speak.
    ///   - localAddress: the local IP to connect from; nil lets the system choose.
    ///   - tls: for `wss://` URLs, which certificates to trust; nil means ``ClientTLS/system``. Every reconnect
    ///     shares its TLS context.
    public init(device: String, urls: [String], minBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5),
                encoding: FrameEncoding = .json, localAddress: String? = nil, tls: ClientTLS? = nil,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                token: @escaping @Sendable () async throws -> String) {
        self.encoding = encoding
        self.localAddress = localAddress
        self.tls = tls
        self.device = device
        self.urls = urls
        self.token = token
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
        self.group = group
        (messages, messageSink) = AsyncStream.makeStream()
        (events, eventSink) = AsyncStream.makeStream()
        (topicDeliveries, topicSink) = AsyncStream.makeStream()
    }

    /// Starts connecting; returns at once.
    public func start() {
        loop = Task { await run() }
    }

    /// The connection in use right now, if any.
    public var client: DeviceClient? { state.withLockedValue { $0.client } }

    /// Sends on the current connection.
    /// - Throws: ``DeviceClient/Failure/closed(code:)`` when not connected; the caller may retry with the same id.
    @discardableResult
    public func send(service: String, payload: Payload, id: String? = nil) async throws -> String {
        guard let client else { throw DeviceClient.Failure.closed(code: nil) }
        return try await client.send(service: service, payload: payload, id: id)
    }

    /// Closes the connection and stops reconnecting.
    public func stop() async {
        let client = state.withLockedValue { s -> DeviceClient? in
            s.stopped = true
            return s.client
        }
        loop?.cancel()
        await client?.close()
        _ = await loop?.value
    }

    private func run() async {
        var attempt = 0
        var next = 0
        while !Task.isCancelled && !state.withLockedValue({ $0.stopped }) {
            let url = urls[next % urls.count]
            next += 1
            do {
                let client = try await DeviceClient.connect(to: url, encoding: encoding, localAddress: localAddress, tls: tls,
                                                            group: group)
                let welcome: Welcome
                do {
                    welcome = try await client.hello(device: device, token: try await token())
                } catch {
                    await client.close()
                    throw error
                }
                let stoppedMeanwhile = state.withLockedValue { s -> Bool in
                    s.client = client
                    s.connections += 1
                    return s.stopped
                }
                // `stop()` came during the hello and found no connection to close. What the edge sent until this
                // close was acked, so it is still read below and yielded.
                if stoppedMeanwhile { await client.close() }
                eventSink.yield(.connected(edge: welcome.edge, session: welcome.session))
                attempt = 0
                let topics = Task { await self.followTopics(on: client) }
                for await message in client.messages where isNew(message.id) { messageSink.yield(message) }
                await topics.value
                let code = try? await client.closeCode(timeout: .seconds(1))
                state.withLockedValue { $0.client = nil }
                eventSink.yield(.disconnected(code: code ?? nil))
                if let code = code ?? nil, code == CloseCode.replaced.rawValue || code == CloseCode.authFailed.rawValue {
                    finish("closed with \(code)")
                    return
                }
                // A draining edge says when to come back (to another edge): that wait replaces the backoff.
                if code ?? nil == CloseCode.draining.rawValue, let delay = client.requestedReconnectDelay {
                    try? await Task.sleep(for: delay)
                    continue
                }
            } catch DeviceClient.Failure.refused(let error) where error.code == .authFailed {
                finish("token refused: \(error.message)")
                return
            } catch {
                eventSink.yield(.disconnected(code: nil))
            }
            attempt += 1
            try? await Task.sleep(for: backoff(attempt))
        }
        finish("stopped")
    }

    /// Full jitter: a random wait between zero and the exponential bound, so a crowd does not reconnect in step.
    func backoff(_ attempt: Int) -> Duration {
        let bound = min(maxBackoff, minBackoff * (1 << min(attempt, 16)))
        let ms = bound.components.seconds * 1000 + bound.components.attoseconds / 1_000_000_000_000_000
        return .milliseconds(Int64.random(in: 0...max(1, ms)))
    }

    private func isNew(_ id: String) -> Bool {
        state.withLockedValue { s in
            guard s.seen.insert(id).inserted else {
                s.duplicates += 1
                return false
            }
            s.seenOrder.append(id)
            if s.seenOrder.count > 16_384 { s.seen.remove(s.seenOrder.removeFirst()) }
            return true
        }
    }

    private func finish(_ reason: String) {
        eventSink.yield(.stopped(reason: reason))
        eventSink.finish()
        messageSink.finish()
        topicSink.finish()
    }
}
