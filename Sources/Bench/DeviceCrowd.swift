import ChannelClient
import ChannelProtocol
import Foundation
import NIOConcurrencyHelpers
import Shared

/// The devices one worker process plays: it connects them, drives the scenario's traffic and tallies what comes back.
///
/// Traffic runs from frame observers on the event loops (no task or stream per message), so the generator costs
/// little next to what it measures. Latencies are taken from timestamps carried in the message ids (upstream, round
/// trip) or payloads (downstream), on the system-wide monotonic clock, so no table of sent messages is kept.
final class DeviceCrowd: @unchecked Sendable {
    let plan: WorkerPlan
    let slots: [DeviceSlot]
    let tally: NIOLockedValueBox<Tally>
    private let payload: Payload
    /// One for the whole worker, so its TLS context is built once.
    private let tls: ClientTLS?

    struct Tally {
        var report: WorkerReport
        var running = false
        var measuring = false
        /// Makes message ids unique within the worker.
        var sequence = 0
        var latency = LatencyHistogram()
        /// Fanout storm: when the devices started resuming (monotonic ns) and how many events each missed.
        var resumeAt: UInt64?
        var missed = 0
    }

    /// One device: its connection once welcomed, and its message counter.
    final class DeviceSlot: @unchecked Sendable {
        let name: String
        var client: DeviceClient?
        var persistent: PersistentDevice?
        var token = ""
        /// Fanout: the last topic event's position and sequence number, the events received since connecting and
        /// since the last disconnect, and how many times the device moved to the next edge.
        var lastPosition: TopicPosition?
        var lastSequence: Int64 = -1
        var events = 0
        var eventsSinceResume = 0
        var caughtUp = false
        var moves = 0

        init(name: String) { self.name = name }
    }

    init(plan: WorkerPlan) {
        self.plan = plan
        slots = (0..<plan.devices).map { DeviceSlot(name: "\(plan.devicePrefix)\(plan.firstDevice + $0)") }
        tally = NIOLockedValueBox(Tally(report: WorkerReport(worker: plan.worker, phase: .connecting)))
        tls = plan.trustRootsFile.map { ClientTLS(trustRoots: $0) }
        payload = plan.frameEncoding == .json
            ? .json(Array(("\"" + String(repeating: "x", count: max(plan.payloadBytes - 2, 0)) + "\"").utf8))
            : .binary(Array(repeating: 0x78, count: plan.payloadBytes))
    }

    /// The current tally, for a progress line.
    func report() -> WorkerReport { tally.withLockedValue { $0.report } }

    // MARK: - Connecting

    /// Connects every device (hello included), `connectConcurrency` at a time, retrying each a few times.
    /// Tokens are minted first, as real devices bring theirs, so the connect rate measures the gateway.
    func connectAll() async throws {
        let authority = try await TokenAuthority(keys: [.development])
        let topics = plan.topic == nil ? [] : ["bench.*"]
        for slot in slots {
            slot.token = try await authority.mint(device: slot.name, services: ["*"], topics: topics, ttl: .seconds(86_400))
        }
        let started = monotonicNanoseconds()
        await withTaskGroup(of: Void.self) { group in
            for (index, slot) in slots.enumerated() {
                if index >= plan.connectConcurrency { await group.next() }
                group.addTask {
                    if self.plan.scenario == .reconnect {
                        await self.startPersistent(slot, number: self.plan.firstDevice + index, authority: authority)
                    } else {
                        await self.connect(slot, number: self.plan.firstDevice + index, authority: authority)
                    }
                }
            }
        }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        tally.withLockedValue {
            $0.report.connectSeconds = seconds
            $0.report.phase = .connected
        }
    }

    /// Connects `slot`'s device and says hello; with a topic in the plan, subscribes to it too, after the device's
    /// last position if it has one (a fanout device resuming).
    func connect(_ slot: DeviceSlot, number: Int, authority: TokenAuthority?, resuming: Bool = false) async {
        var lastError = ""
        for attempt in 0..<6 {
            do {
                let token = slot.token
                let client = try await DeviceClient.connect(
                    to: plan.url(forDevice: number + slot.moves), encoding: plan.frameEncoding, localAddress: plan.localAddress,
                    tls: tls, observer: { [unowned self] frame in self.observe(frame, slot: slot) })
                do {
                    _ = try await client.hello(device: slot.name, token: token, timeout: .seconds(30))
                    if let topic = plan.topic {
                        try await client.subscribe(topic: topic, after: slot.lastPosition, timeout: .seconds(30))
                    }
                } catch {
                    await client.close()
                    throw error
                }
                slot.client = client
                tally.withLockedValue {
                    if !resuming { $0.report.connected += 1 }
                    if plan.topic != nil && !resuming { $0.report.subscribed += 1 }
                }
                return
            } catch {
                lastError = "\(error)"
                try? await Task.sleep(for: .milliseconds(100 << attempt))
            }
        }
        tally.withLockedValue {
            $0.report.failed += 1
            $0.report.firstError = $0.report.firstError ?? "\(slot.name): \(lastError)"
        }
    }

    /// Reconnect scenario: a reconnecting device that starts on the first edge and tries the others after it.
    private func startPersistent(_ slot: DeviceSlot, number: Int, authority: TokenAuthority) async {
        let others = Array(plan.urls.dropFirst())
        let rotated = others.isEmpty ? [] : (0..<others.count).map { others[(number + $0) % others.count] }
        let name = slot.name
        let device = PersistentDevice(device: name, urls: [plan.urls[0]] + rotated, encoding: plan.frameEncoding,
                                      localAddress: plan.localAddress) {
            try await authority.mint(device: name, services: ["*"], ttl: .seconds(86_400))
        }
        slot.persistent = device
        device.start()
        let deadline = ContinuousClock.now + .seconds(120)
        while device.connections == 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        tally.withLockedValue {
            if device.connections > 0 { $0.report.connected += 1 } else { $0.report.failed += 1 }
        }
    }

    // MARK: - Traffic

    /// Starts the scenario's traffic (devices only listen in `connections` and `downstream`).
    func start() {
        tally.withLockedValue { $0.running = true; $0.report.phase = .running }
        switch plan.scenario {
        case .upstream where plan.rate == 0:
            for slot in slots {
                for _ in 0..<plan.window { send(slot) }
            }
        case .upstream, .roundtrip:
            Task { await pace() }
        case .connections, .downstream, .reconnect, .mailboxMemory, .fanout, .chaos, .api:
            break
        }
    }

    /// From now on, counts start from zero and latencies are recorded: the warm-up is over.
    func measure() {
        tally.withLockedValue { t in
            t.measuring = true
            t.latency = LatencyHistogram()
            let report = t.report
            t.report = WorkerReport(worker: report.worker, phase: report.phase, connected: report.connected,
                                    failed: report.failed, receivedSinceStart: report.receivedSinceStart,
                                    reconnected: report.reconnected, subscribed: report.subscribed,
                                    disconnected: report.disconnected,
                                    connectSeconds: report.connectSeconds, firstError: report.firstError)
        }
    }

    /// Stops sending and returns the final report, latencies included.
    func finish() -> WorkerReport {
        tally.withLockedValue { t in
            t.running = false
            var report = t.report
            report.phase = .done
            report.latency = t.latency
            return report
        }
    }

    /// Reconnect scenario: the edge was killed at `killedAt` (monotonic ns); records each device's time to be
    /// welcomed again, until all are or `timeout` passes.
    func watchReconnects(killedAt: UInt64, timeout: Duration = .seconds(120)) async {
        let deadline = ContinuousClock.now + timeout
        var waiting = slots.filter { $0.persistent != nil }
        while !waiting.isEmpty && ContinuousClock.now < deadline {
            let now = monotonicNanoseconds()
            var done = 0
            waiting.removeAll { slot in
                guard (slot.persistent?.connections ?? 0) >= 2 else { return false }
                done += 1
                let micros = Int64(now - killedAt) / 1000
                tally.withLockedValue { $0.latency.record(microseconds: micros) }
                return true
            }
            if done > 0 { tally.withLockedValue { $0.report.reconnected += done } }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends on a fixed schedule, `plan.rate` messages per second over all devices in turn. A message's latency runs
    /// from when it was due, not when it was sent, so a generator that falls behind shows up in the figures
    /// (coordinated omission).
    private func pace() async {
        let start = monotonicNanoseconds()
        let interval = 1e9 / plan.rate
        var n = 0
        while tally.withLockedValue({ $0.running }) {
            let due = Int(Double(monotonicNanoseconds() - start) / interval)
            while n <= due {
                send(slots[n % slots.count], dueAt: start + UInt64(Double(n) * interval))
                n += 1
            }
            try? await Task.sleep(for: .microseconds(500))
        }
    }

    /// Sends one message; its id carries when it was due: `<monotonic ns>.<sequence>`.
    private func send(_ slot: DeviceSlot, dueAt: UInt64? = nil) {
        guard let client = slot.client else { return }
        let sequence = tally.withLockedValue { t -> Int in
            t.sequence += 1
            t.report.sent += 1
            return t.sequence
        }
        let id = "\(dueAt ?? monotonicNanoseconds()).\(sequence)"
        client.send(frame: .msg(Message(service: plan.service, id: id, payload: payload)))
    }

    private func observe(_ frame: Frame, slot: DeviceSlot) {
        let now = monotonicNanoseconds()
        switch frame {
        case .ack(let id):
            let running = tally.withLockedValue { t -> Bool in
                t.report.acked += 1
                if t.measuring && plan.scenario == .upstream, let sent = Self.timestamp(inID: id) {
                    t.latency.record(microseconds: Int64(now &- sent) / 1000)
                }
                return t.running
            }
            if running && plan.scenario == .upstream && plan.rate == 0 { send(slot) }
        case .event(let event):
            topicEvent(event, slot: slot, now: now)
        case .gap:
            tally.withLockedValue { $0.report.gaps += 1 }
        case .error(let error):
            tally.withLockedValue {
                $0.report.refused += 1
                $0.report.firstError = $0.report.firstError ?? "\(slot.name): \(error.code.rawValue): \(error.message)"
            }
        case .msg(let message):
            let sent: UInt64?
            switch plan.scenario {
            case .roundtrip: sent = Self.timestamp(inID: String(message.id.drop { $0 != "-" }.dropFirst()))
            case .downstream: sent = Self.timestamp(inPayload: message.payload.bytes)
            default: sent = nil
            }
            tally.withLockedValue { t in
                t.report.received += 1
                t.report.receivedSinceStart += 1
                if t.measuring, let sent { t.latency.record(microseconds: Int64(now &- sent) / 1000) }
            }
        default:
            break
        }
    }

    static func timestamp(inID id: String) -> UInt64? {
        UInt64(id.prefix { $0 != "." })
    }

    /// Downstream payloads start with the publish time: monotonic nanoseconds, 8 bytes big-endian.
    static func timestamp(inPayload bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        return bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// Nanoseconds on CLOCK_MONOTONIC, which every process on the machine shares, so a time taken by the publisher
/// process can be compared with one taken by a device process.
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
