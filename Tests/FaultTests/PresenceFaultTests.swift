import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Lifecycle
import Shared
import Testing

extension FaultTests {
    /// `kill -9` of the edge holding a watched device: no disconnect event ever comes, so the presence service's
    /// dead-edge sweep must take the device offline once the edge's liveness key expires (TTL 3 s here).
    @Test func killingAnEdgeTakesItsDevicesOfflineForTheirWatchers() async throws {
        let ttl = 3
        let f = try await FaultCluster.start("presence-kill", presence: true, edgeArguments: ["--edge-heartbeat-ttl", "\(ttl)"])
        defer { f.stop() }
        let watched = try await f.connect("pk-watched", edge: 0)
        let watcher = try await f.connect("pk-watcher", edge: 1)
        let inbox = PresenceInbox(watcher)
        try await inbox.watch("pk-watched", from: watcher, untilOnline: true)
        let killedAt = ContinuousClock.now
        f.cluster.edges[0].process.crash()
        let change = try await inbox.next(within: Double(ttl) + 2 + 3) {
            $0.body.contains(#""op":"change""#) && $0.body.contains(#""device":"pk-watched""#) && $0.body.contains(#""online":false"#)
        }
        let took = ContinuousClock.now - killedAt
        print("fault presence: the watcher read pk-watched offline \(took) after kill -9 of its edge (heartbeat TTL \(ttl) s)")
        #expect(took <= .seconds(ttl + 2), "offline within the heartbeat TTL + 2 s, took \(took)")
        #expect(change.id.hasPrefix("presence-pk-watched-"))
        _ = watched
        await watcher.close()
    }
}

extension FaultTests {
    /// `kill -9` of an edge that comes straight back under the same id (a crashed container restarted in its pod): its
    /// liveness key never expires, so only the new process's `start` event can tell the presence service that the
    /// watched device's connection is gone. The heartbeat TTL stays at its default (15 s); the watcher must see the
    /// device offline well before that.
    @Test func anEdgeRestartedUnderItsIdTakesItsEarlierDevicesOffline() async throws {
        let f = try await FaultCluster.start("presence-restart", presence: true)
        defer { f.stop() }
        let watched = try await f.connect("pr-watched", edge: 0)
        let watcher = try await f.connect("pr-watcher", edge: 1)
        let inbox = PresenceInbox(watcher)
        try await inbox.watch("pr-watched", from: watcher, untilOnline: true)
        let edge = f.cluster.edges[0]
        edge.process.crash()
        let crashedAt = ContinuousClock.now
        try await offload { try f.cluster.startEdge(id: edge.id, port: edge.port, wait: true) }
        let change = try await inbox.next(within: 12) {
            $0.body.contains(#""op":"change""#) && $0.body.contains(#""device":"pr-watched""#) && $0.body.contains(#""online":false"#)
        }
        let took = ContinuousClock.now - crashedAt
        print("fault presence: pr-watched read offline \(took) after kill -9 and restart of its edge (heartbeat TTL 15 s)")
        #expect(took < .seconds(12), "offline long before the 15 s heartbeat TTL, took \(took)")
        #expect(change.id.hasPrefix("presence-pr-watched-"))

        // A device connecting to the restarted edge is online, whatever order the start and its connect arrive in.
        let again = try await f.connect("pr-watched", edge: 0)
        _ = try await inbox.next(within: 10) {
            $0.body.contains(#""op":"change""#) && $0.body.contains(#""device":"pr-watched""#) && $0.body.contains(#""online":true"#)
        }
        _ = watched
        await again.close()
        await watcher.close()
    }
}

/// The presence messages one device received, as JSON text, for the test to wait on.
final class PresenceInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [(id: String, body: String)] = []

    init(_ client: DeviceClient) {
        Task { [self] in
            for await message in client.messages where message.service == "presence" {
                lock.withLock { received.append((message.id, String(decoding: message.payload.bytes, as: UTF8.self))) }
            }
        }
    }

    /// Watches `device` from `watcher` until its entry reads online (its connect event may still be on its way).
    func watch(_ device: String, from watcher: DeviceClient, untilOnline: Bool) async throws {
        try await within(30, "\(device) to read online") {
            while true {
                let id = try await watcher.send(service: "presence", json: #"{"op":"watch","devices":["\#(device)"]}"#)
                let snapshot = try await self.next(within: 15) { $0.id == "presence-\(id)" }
                if snapshot.body.contains(#""online":\#(untilOnline)"#) { return }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// The first message so far or within `seconds` that satisfies `match`; it is consumed.
    func next(within seconds: Double, where match: @escaping @Sendable ((id: String, body: String)) -> Bool) async throws -> (id: String, body: String) {
        try await within(seconds, "a presence message") {
            while true {
                let found = self.lock.withLock { () -> (id: String, body: String)? in
                    guard let index = self.received.firstIndex(where: match) else { return nil }
                    return self.received.remove(at: index)
                }
                if let found { return found }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }
}

extension FaultCluster {
    /// Connects `device` to edge `edge` (0-based) with a development token that may watch every device (its `watch`
    /// claim, docs/presence.md) and says hello; it never reconnects.
    func connect(_ device: String, edge: Int) async throws -> DeviceClient {
        let client = try await DeviceClient.connect(to: cluster.edgeURL(edge))
        let token = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
            .mint(device: device, services: ["*"], watch: [">"], ttl: .seconds(600))
        _ = try await client.hello(device: device, token: token)
        return client
    }
}
