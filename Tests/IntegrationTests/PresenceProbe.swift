import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Shared
import Testing

/// A device talking to the presence service: sends ops, waits for their replies, and keeps every other presence
/// message (changes and left notices, sent to it as a watcher or published on the topics of its rooms) for the test
/// to look for.
final class PresenceProbe: @unchecked Sendable {
    let device: String
    let client: DeviceClient
    private let lock = NSLock()
    /// Messages from service `presence` under their ids, and events of presence topics under `<topic>@<position>`.
    private var received: [(id: String, json: [String: any Sendable])] = []
    private var tasks: [Task<Void, Never>] = []

    init(_ device: String, client: DeviceClient) {
        self.device = device
        self.client = client
        tasks.append(Task { [weak self] in
            for await message in client.messages where message.service == "presence" {
                guard let object = Self.object(message.payload) else { continue }
                self?.lock.withLock { self?.received.append((message.id, object)) }
            }
        })
        tasks.append(Task { [weak self] in
            for await delivery in client.topicEvents {
                guard case .event(let event) = delivery, event.from == "presence", let object = Self.object(event.payload) else { continue }
                self?.lock.withLock { self?.received.append(("\(event.topic)@\(event.position)", object)) }
            }
        })
    }

    private static func object(_ payload: Payload) -> [String: any Sendable]? {
        guard case .json(let bytes) = payload else { return nil }
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))?.plain as? [String: any Sendable]
    }

    /// The topic patterns in the probes' tokens: every room's topic.
    static let topicPatterns = ["presence.room.>"]

    /// Connects `device` to edge `edge` of the shared cluster, with a token that allows every service and the rooms'
    /// topics, and by default every room and device (its `rooms` and `watch` claims, docs/presence.md).
    static func connect(_ device: String, edge: Int, rooms: [String] = [">"], watch: [String] = [">"],
                        on redis: TestRedis = .standalone) async throws -> PresenceProbe {
        try await connect(device, url: try await redis.cluster.edgeURL(edge), rooms: rooms, watch: watch)
    }

    /// Connects `device` to the edge at `url` with a token like ``connect(_:edge:rooms:watch:on:)``'s.
    static func connect(_ device: String, url: String, rooms: [String], watch: [String]) async throws -> PresenceProbe {
        let client = try await DeviceClient.connect(to: url)
        let token = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
            .mint(device: device, services: ["*"], topics: topicPatterns, rooms: rooms, watch: watch, ttl: .seconds(600))
        _ = try await client.hello(device: device, token: token)
        return PresenceProbe(device, client: client)
    }

    /// Subscribes to `room`'s topic, then joins it (so no change after the snapshot is missed), and returns the
    /// `join` reply, checking that it names the topic.
    func join(_ room: String) async throws -> [String: any Sendable] {
        try await client.subscribe(topic: "presence.room.\(room)")
        let reply = try await op(#"{"op":"join","room":"\#(room)"}"#)
        #expect(reply["topic"] as? String == "presence.room.\(room)", "the snapshot names the room's topic")
        return reply
    }

    /// Leaves `room`, then unsubscribes from its topic; returns the `leave` reply.
    func leave(_ room: String) async throws -> [String: any Sendable] {
        let reply = try await op(#"{"op":"leave","room":"\#(room)"}"#)
        try await client.unsubscribe(topic: "presence.room.\(room)")
        return reply
    }

    /// A JSON value read strictly (true and false are never numbers), turned into plain Swift values: String, Bool,
    /// Int64, Double, arrays, dictionaries, and `String?.none` for null.
    enum JSONValue: Decodable {
        case value(any Sendable)

        init(from decoder: any Decoder) throws {
            if let object = try? decoder.container(keyedBy: Key.self) {
                var values: [String: any Sendable] = [:]
                for key in object.allKeys { values[key.stringValue] = try object.decode(JSONValue.self, forKey: key).plain }
                self = .value(values)
                return
            }
            if var list = try? decoder.unkeyedContainer() {
                var values: [any Sendable] = []
                while !list.isAtEnd { values.append(try list.decode(JSONValue.self).plain) }
                self = .value(values)
                return
            }
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { self = .value(String?.none) }
            else if let flag = try? single.decode(Bool.self) { self = .value(flag) }
            else if let number = try? single.decode(Int64.self) { self = .value(number) }
            else if let number = try? single.decode(Double.self) { self = .value(number) }
            else { self = .value(try single.decode(String.self)) }
        }

        var plain: any Sendable { if case .value(let v) = self { return v }; return String?.none }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    /// Sends `json` to the presence service and returns its reply (id `presence-<message id>`).
    func op(_ json: String, within seconds: Double = 15) async throws -> [String: any Sendable] {
        let id = try await client.send(service: "presence", json: json)
        return try await next(within: seconds, "the reply to \(json)") { $0.id == "presence-\(id)" }.json
    }

    /// The first message so far or within `seconds` that satisfies `match`; it is consumed.
    func next(within seconds: Double = 10, _ what: String,
              where match: @escaping @Sendable ((id: String, json: [String: any Sendable])) -> Bool) async throws
        -> (id: String, json: [String: any Sendable]) {
        try await within(seconds, what) {
            while true {
                let found = self.lock.withLock { () -> (id: String, json: [String: any Sendable])? in
                    guard let index = self.received.firstIndex(where: match) else { return nil }
                    return self.received.remove(at: index)
                }
                if let found { return found }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    /// The next `change` of `device`'s entry with the given `online` (any if nil), within `seconds`.
    func change(of device: String, online: Bool? = nil, status: String? = nil, within seconds: Double = 10) async throws -> [String: any Sendable] {
        try await next(within: seconds, "a change of \(device) (online \(online.map(String.init) ?? "any"))") { message in
            message.json["op"] as? String == "change" && message.json["device"] as? String == device
                && (online == nil || message.json["online"] as? Bool == online)
                && (status == nil || message.json["status"] as? String == status)
        }.json
    }

    /// Every message received and not yet consumed.
    var pending: [(id: String, json: [String: any Sendable])] { lock.withLock { received } }

    /// Watches `device` until its entry reads `online` (the connection event may still be on its way).
    func waitUntilWatched(_ device: String, online: Bool, within seconds: Double = 15) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let snapshot = try await op(#"{"op":"watch","devices":["\#(device)"]}"#)
            let entries = snapshot["presence"] as? [any Sendable] ?? []
            if (entries.first as? [String: any Sendable])?["online"] as? Bool == online { return }
            guard Date() < deadline else { throw TimedOut(what: "\(device) to read online \(online)", seconds: seconds) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func close() async {
        await client.close()
        for task in tasks { task.cancel() }
    }
}
