import ChannelClient
import ChannelProtocol
import ChaosCheck
import Foundation
import NIOConcurrencyHelpers
import Shared

/// The devices of a chaos run, each a reconnecting ``PersistentDevice`` that knows every edge. What they receive, and
/// when they lose or regain their edge, goes to the recorder.
///
/// - Senders send to echo (and now and then a presence status) one message at a time: the next only once the edge
///   acked the previous, retried with the same id until it is, so their order is the order the gateway must keep.
/// - Listeners subscribe to the chaos topic and some subscribe to push, for the app server.
/// - Leavers go offline now and then and come back as a new connection, as phones do; they only receive.
final class ChaosDevices: @unchecked Sendable {
    static let topic = "chaos.news"

    private let recorder: ChaosRecorder
    private let urls: [String]
    private let authority: TokenAuthority
    private let state = NIOLockedValueBox(State())
    private var tasks: [Task<Void, Never>] = []

    private struct State {
        var devices: [String: PersistentDevice] = [:]
        /// Push subscription of each device that has one.
        var subscriptions: [String: String] = [:]
        var sending = true
        var repeatsOfStopped = 0
    }

    let senders: [String]
    let listeners: [String]
    let leavers: [String]

    init(recorder: ChaosRecorder, urls: [String], senders: Int, listeners: Int, leavers: Int) async throws {
        self.recorder = recorder
        self.urls = urls
        authority = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        self.senders = (0..<senders).map { "chaos-s\($0)" }
        self.listeners = (0..<listeners).map { "chaos-l\($0)" }
        self.leavers = (0..<leavers).map { "chaos-x\($0)" }
    }

    /// Every device that can receive downstream messages.
    var all: [String] { senders + listeners + leavers }

    /// Push subscriptions made so far, by device.
    var subscriptions: [String: String] { state.withLockedValue { $0.subscriptions } }

    /// Connects every device and waits until each has been welcomed once; then subscribes the listeners to the topic
    /// and a third of them to push.
    func start() async throws {
        for (index, device) in all.enumerated() { try await connect(device, index: index) }
        let deadline = ContinuousClock.now + .seconds(60)
        while state.withLockedValue({ $0.devices.values.contains { $0.connections == 0 } }) {
            guard ContinuousClock.now < deadline else { throw BenchError("chaos: devices did not connect within 60 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        for device in listeners {
            try await self.device(device)?.subscribe(topic: Self.topic)
            recorder.record { $0.subscribedAt["\(device)|\(Self.topic)"] = recorder.now }
        }
        for device in listeners.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
            _ = try await self.device(device)?.send(service: "push", payload: .json(Array(#"{"op":"subscribe","label":"chaos"}"#.utf8)),
                                                    id: "sub-\(device)")
        }
        let wanted = (listeners.count + 2) / 3
        while subscriptions.count < wanted {
            guard ContinuousClock.now < deadline else { throw BenchError("chaos: push subscriptions did not come back within 60 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        for (index, device) in senders.enumerated() {
            tasks.append(Task { await self.send(from: device, presenceEvery: index % 4 == 0 ? 5 : 0) })
        }
        for device in leavers { tasks.append(Task { await self.comeAndGo(device) }) }
    }

    /// Stops sending and leaving; what is in flight finishes (a sender's unacked message is given up, not counted).
    func stopLoad() async {
        state.withLockedValue { $0.sending = false }
        for task in tasks { await task.value }
    }

    /// Disconnects every device and adds up the repeats their clients dropped.
    func stop() async {
        let devices = state.withLockedValue { $0.devices }
        for device in devices.values { await device.stop() }
        let repeats = devices.values.reduce(0) { $0 + $1.duplicatesDropped } + state.withLockedValue { $0.repeatsOfStopped }
        recorder.record { $0.sameIdRepeats = repeats }
    }

    private var sending: Bool { state.withLockedValue { $0.sending } }

    private func device(_ name: String) -> PersistentDevice? { state.withLockedValue { $0.devices[name] } }

    private func connect(_ name: String, index: Int) async throws {
        let token = try await authority.mint(device: name, services: ["*"], topics: ["chaos.>"], ttl: .seconds(24 * 3600))
        let order = urls.indices.map { urls[($0 + index) % urls.count] }
        let device = PersistentDevice(device: name, urls: order, minBackoff: .milliseconds(50), maxBackoff: .seconds(2),
                                      encoding: index % 2 == 0 ? .json : .binary) { token }
        state.withLockedValue { $0.devices[name] = device }
        let recorder = self.recorder
        Task {
            for await message in device.messages {
                let at = recorder.now
                recorder.record {
                    $0.receipts.append(.init(device: name, service: message.service, id: message.id,
                                             seq: ChaosPayload.seq(in: message.payload.bytes), at: at))
                }
                if message.service == "push", message.id == "push-sub-\(name)",
                   let subscription = ChaosPayload.string("subscription", in: message.payload.bytes) {
                    state.withLockedValue { $0.subscriptions[name] = subscription }
                }
            }
        }
        Task {
            for await event in device.events {
                switch event {
                case .connected: recorder.record { $0.links.append(.init(device: name, connected: true, at: recorder.now)) }
                case .disconnected: recorder.record { $0.links.append(.init(device: name, connected: false, at: recorder.now)) }
                case .stopped, .topicRefused: break
                }
            }
        }
        Task {
            for await delivery in device.topicDeliveries {
                let at = recorder.now
                let (position, gap): (TopicPosition, Bool) = switch delivery {
                case .event(let event): (event.position, false)
                case .gap(_, let position): (position, true)
                }
                recorder.record {
                    $0.topicReceipts.append(.init(device: name, topic: delivery.topic, partition: Int(position.partition),
                                                  offset: position.offset, isGap: gap, at: at))
                }
            }
        }
        device.start()
    }

    /// One message at a time to echo (every `presenceEvery`-th a presence status instead), each until acked.
    private func send(from name: String, presenceEvery: Int) async {
        var seq = 0
        while sending {
            seq += 1
            let toPresence = presenceEvery > 0 && seq % presenceEvery == 0
            let service = toPresence ? "presence" : "echo"
            let body = toPresence ? ##"{"op":"set","status":"#\##(seq)"}"## : "\"#\(seq)\""
            let id = "u-\(seq)"
            while sending {
                guard let device = device(name) else { return }
                do {
                    try await device.send(service: service, payload: .json(Array(body.utf8)), id: id)
                    let at = recorder.now
                    recorder.record { $0.acked.append(.init(service: service, device: name, id: id, seq: seq, at: at)) }
                    break
                } catch {
                    try? await Task.sleep(for: .milliseconds(300))
                }
            }
            try? await Task.sleep(for: .milliseconds(Int64.random(in: 500...1500)))
        }
    }

    /// Goes offline for 2 to 6 s every 5 to 15 s, and comes back as a new connection of the same device.
    private func comeAndGo(_ name: String) async {
        let index = all.firstIndex(of: name) ?? 0
        while sending {
            try? await Task.sleep(for: .milliseconds(Int64.random(in: 5000...15000)))
            guard sending, let device = device(name) else { return }
            // Stopped on purpose: the disconnect its stream reports next is not a lost edge.
            recorder.record { $0.links.append(.init(device: name, connected: false, onPurpose: true, at: recorder.now)) }
            await device.stop()
            recorder.record { $0.links.append(.init(device: name, connected: false, onPurpose: true, at: recorder.now)) }
            let repeats = device.duplicatesDropped
            state.withLockedValue { $0.repeatsOfStopped += repeats }
            try? await Task.sleep(for: .milliseconds(Int64.random(in: 2000...6000)))
            try? await connect(name, index: index)
        }
    }
}

/// What the chaos run puts in payloads and reads back: a counter written `#<n>`, and fields of JSON answers.
enum ChaosPayload {
    /// The number after the first `#`, if any.
    static func seq(in bytes: [UInt8]) -> Int? {
        guard let hash = bytes.firstIndex(of: UInt8(ascii: "#")) else { return nil }
        let digits = bytes[(hash + 1)...].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// The string value of `field` in a JSON object, if it is one.
    static func string(_ field: String, in bytes: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        return object[field] as? String
    }
}
