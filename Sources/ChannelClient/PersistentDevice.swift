import ChannelProtocol
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A device that stays connected: it reconnects after any loss with jittered exponential backoff, trying the edges it
/// knows in turn, says hello again, and drops duplicate messages across connections. When the edge sends `reconnect`
/// before it closes (draining, 4005, or an operator's disconnect with a delay, 4010 by default), it waits the frame's
/// delay instead and connects to the next edge.
///
/// Guarantees: every message a service sent reaches `messages` at least once while its TTL lasts (the gateway keeps
/// it in the mailbox until acked, and messages are acked automatically once yielded), in order, and an id seen in the
/// last 16,384 messages is never yielded twice. It stops reconnecting when another connection of the same device
/// takes over (4004).
///
/// Tokens: with a token callback (`getToken`) it asks for a token before every hello, and keeps the connection's
/// token fresh without reconnecting: on the edge's `refresh_due` (or, if none comes, shortly before `exp`) it calls
/// `getToken` and sends `refresh`. A callback that throws, a token the edge refuses, or one that expires no later than
/// the token in use is retried after 1 s, doubling to 30 s (jittered), until the connection ends. After the edge
/// refused a hello's token (4001) or closed the connection because its token expired (4008) or was revoked (4009),
/// it reconnects only with a token from the callback that differs from that one, asking again with the same backoff
/// meanwhile, so a callback that keeps failing costs no connections. With a fixed token
/// (``init(device:urls:minBackoff:maxBackoff:encoding:localAddress:tls:group:token:)``) there is nothing to refresh,
/// and it stops after 4001, 4008 or 4009.
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
    let getToken: @Sendable () async throws -> String
    /// Whether `getToken` can give a new token (false for a fixed token).
    let renewable: Bool
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
        /// The token of the current connection's grant (the hello's, then each accepted refresh's).
        var token: String?
        /// The last token the edge refused, or that expired or was revoked: never presented again.
        var refusedToken: String?
        var refreshes = 0
        var tokenFailure: String?
    }

    /// Messages that arrived again (same id) and were dropped, across all connections.
    public var duplicatesDropped: Int { state.withLockedValue { $0.duplicates } }

    /// How many times a hello was accepted.
    public var connections: Int { state.withLockedValue { $0.connections } }

    /// How many refreshes the edge accepted, across connections.
    public var refreshes: Int { state.withLockedValue { $0.refreshes } }

    /// When the current connection's token expires (Unix seconds), if connected to an edge that says.
    public var tokenExpiresAt: Int? { client?.tokenExpiresAt }

    /// Why the last attempt to get a token, or to refresh with it, failed; nil once one succeeded.
    public var tokenFailure: String? { state.withLockedValue { $0.tokenFailure } }

    /// A device whose tokens come from the app, and are refreshed on the connection before they expire.
    /// - Parameters:
    ///   - urls: edges to try, in turn (a load balancer's one address is fine).
    ///   - minBackoff, maxBackoff: the bounds of the reconnect backoff (full jitter). Getting a token has its own
    ///     backoff, 1 s doubling to 30 s.
    ///   - encoding: the protocol encoding to speak.
    ///   - localAddress: the local IP to connect from; nil lets the system choose.
    ///   - tls: for `wss://` URLs, which certificates to trust; nil means ``ClientTLS/system``. Every reconnect
    ///     shares its TLS context.
    ///   - getToken: a token for this device; called before every hello and for every refresh. It may take its
    ///     time (the connection is opened only once it returned) and throw (it is called again with backoff).
    public convenience init(device: String, urls: [String], minBackoff: Duration = .milliseconds(100),
                            maxBackoff: Duration = .seconds(5), encoding: FrameEncoding = .json, localAddress: String? = nil,
                            tls: ClientTLS? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            getToken: @escaping @Sendable () async throws -> String) {
        self.init(device: device, urls: urls, minBackoff: minBackoff, maxBackoff: maxBackoff, encoding: encoding,
                  localAddress: localAddress, tls: tls, group: group, getToken: getToken, renewable: true)
    }

    /// A device with one fixed token: never refreshed, and the device stops once the edge refused it (4001), or it
    /// expired (4008) or was revoked (4009). Parameters as in
    /// ``init(device:urls:minBackoff:maxBackoff:encoding:localAddress:tls:group:getToken:)``.
    public convenience init(device: String, urls: [String], minBackoff: Duration = .milliseconds(100),
                            maxBackoff: Duration = .seconds(5), encoding: FrameEncoding = .json, localAddress: String? = nil,
                            tls: ClientTLS? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            token: String) {
        self.init(device: device, urls: urls, minBackoff: minBackoff, maxBackoff: maxBackoff, encoding: encoding,
                  localAddress: localAddress, tls: tls, group: group, getToken: { token }, renewable: false)
    }

    private init(device: String, urls: [String], minBackoff: Duration, maxBackoff: Duration, encoding: FrameEncoding,
                 localAddress: String?, tls: ClientTLS?, group: any EventLoopGroup,
                 getToken: @escaping @Sendable () async throws -> String, renewable: Bool) {
        self.encoding = encoding
        self.localAddress = localAddress
        self.tls = tls
        self.device = device
        self.urls = urls
        self.getToken = getToken
        self.renewable = renewable
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
        var tokenFailures = 0
        var next = 0
        while !Task.isCancelled && !state.withLockedValue({ $0.stopped }) {
            // The token first: the edge's hello deadline starts with the connection, and the app may take its time.
            let token: String
            do {
                token = try await nextToken()
            } catch {
                tokenFailures += 1
                state.withLockedValue { $0.tokenFailure = "\(error)" }
                try? await Task.sleep(for: Self.tokenRetryDelay(tokenFailures))
                continue
            }
            if Task.isCancelled || state.withLockedValue({ $0.stopped }) { break }
            let url = urls[next % urls.count]
            next += 1
            do {
                let client = try await DeviceClient.connect(to: url, encoding: encoding, localAddress: localAddress, tls: tls,
                                                            group: group)
                let welcome: Welcome
                do {
                    welcome = try await client.hello(device: device, token: token)
                } catch {
                    await client.close()
                    throw error
                }
                let stoppedMeanwhile = state.withLockedValue { s -> Bool in
                    s.client = client
                    s.token = token
                    s.tokenFailure = nil
                    s.connections += 1
                    return s.stopped
                }
                // `stop()` came during the hello and found no connection to close. What the edge sent until this
                // close was acked, so it is still read below and yielded.
                if stoppedMeanwhile { await client.close() }
                eventSink.yield(.connected(edge: welcome.edge, session: welcome.session))
                attempt = 0
                tokenFailures = 0
                let topics = Task { await self.followTopics(on: client) }
                let refresher = renewable ? Task { await self.keepTokenFresh(on: client, expiresAt: welcome.tokenExpiresAt) } : nil
                for await message in client.messages where isNew(message.id) { messageSink.yield(message) }
                await topics.value
                // Not awaited: the app's callback may still be busy, and nothing it brings can help this connection.
                refresher?.cancel()
                let code = try? await client.closeCode(timeout: .seconds(1))
                let used = state.withLockedValue { s -> String? in
                    s.client = nil
                    return s.token
                }
                eventSink.yield(.disconnected(code: code ?? nil))
                let closeCode = (code ?? nil).flatMap(CloseCode.init(rawValue:))
                if closeCode == .replaced {
                    finish("closed with \(CloseCode.replaced.rawValue)")
                    return
                }
                if let closeCode, [.authFailed, .tokenExpired, .revoked].contains(closeCode) {
                    guard renewable else {
                        finish("closed with \(closeCode.rawValue)")
                        return
                    }
                    // The next hello needs another token. A refused one also backs off, as the callback may keep
                    // giving tokens the edge refuses.
                    state.withLockedValue { $0.refusedToken = used }
                    if closeCode == .authFailed {
                        tokenFailures += 1
                        try? await Task.sleep(for: Self.tokenRetryDelay(tokenFailures))
                        continue
                    }
                }
                // A draining edge (4005), or an operator's disconnect with a delay (4010 by default), says when to come
                // back with a `reconnect` frame before the close: that wait replaces the backoff.
                if let delay = client.requestedReconnectDelay {
                    try? await Task.sleep(for: delay)
                    continue
                }
            } catch DeviceClient.Failure.refused(let error) where error.code == .authFailed {
                guard renewable else {
                    finish("token refused: \(error.message)")
                    return
                }
                state.withLockedValue { s in
                    s.refusedToken = token
                    s.tokenFailure = "token refused: \(error.message)"
                }
                eventSink.yield(.disconnected(code: CloseCode.authFailed.rawValue))
                tokenFailures += 1
                try? await Task.sleep(for: Self.tokenRetryDelay(tokenFailures))
                continue
            } catch {
                eventSink.yield(.disconnected(code: nil))
            }
            attempt += 1
            try? await Task.sleep(for: backoff(attempt))
        }
        finish("stopped")
    }

    /// A token from the app for the next hello; throws when it is the one the edge last refused (or that expired or
    /// was revoked), which would only be refused again.
    private func nextToken() async throws -> String {
        let token = try await getToken()
        if state.withLockedValue({ $0.refusedToken == token }) { throw TokenUnusable.refusedBefore }
        return token
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
