import ChannelProtocol
import ChaosCheck
import Foundation
import Infrastructure
import Logging
import NIOConcurrencyHelpers
import Shared

/// Who sends to devices in a chaos run, each as its real counterpart would:
/// - a backend producing records on `<prefix>.down` by the Kafka contract (service `chaos`);
/// - an app server pushing over HTTP to the push service;
/// - a publisher of topic records on `<prefix>.topics`.
///
/// Each counts a message only once the gateway took it (the broker's acknowledgement, or 201), and sends one message
/// at a time per device, retrying the same one until taken, so that the order it took them in is the order owed.
/// One message in ten lives 5 s, so that expiry and its reports happen too; the others live 60 s.
final class ChaosSenders: @unchecked Sendable {
    static let service = "chaos"
    private let recorder: ChaosRecorder
    private let producer: KafkaProducer
    private let topics = Topics(prefix: "cg")
    private let pushPort: Int
    private let running = NIOLockedValueBox(true)
    private var tasks: [Task<Void, Never>] = []

    init(recorder: ChaosRecorder, bootstrap: String, pushPort: Int) throws {
        self.recorder = recorder
        self.pushPort = pushPort
        var logger = Logger(label: "chaos-senders")
        logger.logLevel = .critical
        // 30 s: a broker paused for its longest fault still takes the record in the end, as a patient backend's would.
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap, producerProperties: TopicRecord.producerProperties),
                                     messageTimeout: .seconds(30), logger: logger)
    }

    private var isRunning: Bool { running.withLockedValue { $0 } }

    func start(devices: [String], subscriptions: @escaping @Sendable () -> [String: String],
               backendRate: Double, pushRate: Double, topicRate: Double) {
        var random = SystemRandomNumberGenerator()
        let shuffled = devices.shuffled(using: &random)
        // Backend: a few lanes, each owning its devices, so that one device's messages go one at a time.
        let lanes = 4
        for lane in 0..<lanes {
            let own = shuffled.enumerated().filter { $0.offset % lanes == lane }.map(\.element)
            tasks.append(Task { await self.backendLane(devices: own, rate: backendRate / Double(lanes)) })
        }
        tasks.append(Task { await self.publishTopic(rate: topicRate) })
        tasks.append(Task { await self.appServer(subscriptions: subscriptions, rate: pushRate) })
    }

    func stop() async {
        running.withLockedValue { $0 = false }
        for task in tasks { await task.value }
        await producer.shutdown(timeout: .seconds(5))
    }

    private static func ttl() -> Double { Int.random(in: 0..<10) == 0 ? 5 : 60 }

    private func backendLane(devices: [String], rate: Double) async {
        guard !devices.isEmpty, rate > 0 else { return }
        var seq: [String: Int] = [:]
        while isRunning {
            let device = devices.randomElement()!
            let n = (seq[device] ?? 0) + 1
            seq[device] = n
            let ttl = Self.ttl()
            let record = DownstreamRecord(device: device, service: Self.service, id: "d-\(n)", contentType: ContentType.json,
                                          ttlSeconds: Int64(ttl), payload: Array("\"#\(n)\"".utf8)).record(topics: topics)
            // Retried until the broker takes it, so this device's next message cannot overtake it.
            while isRunning {
                let attempt = recorder.now
                do {
                    _ = try await producer.send(record)
                    recorder.record { $0.sent.append(.init(channel: .backend, device: device, id: "d-\(n)", seq: n, ttl: ttl, at: attempt)) }
                    break
                } catch {
                    try? await Task.sleep(for: .milliseconds(300))
                }
            }
            try? await Task.sleep(for: .seconds(1 / rate))
        }
    }

    private func publishTopic(rate: Double) async {
        guard rate > 0 else { return }
        var n = 0
        while isRunning {
            n += 1
            let record = TopicRecord(topic: ChaosDevices.topic, service: Self.service, contentType: ContentType.json,
                                     id: "t-\(n)", payload: Array("\"#\(n)\"".utf8)).record(topics: topics)
            if let delivery = try? await producer.send(record) {
                let at = recorder.now
                recorder.record { $0.published.append(.init(topic: ChaosDevices.topic, partition: Int(delivery.partition), offset: delivery.offset, at: at)) }
            }
            try? await Task.sleep(for: .seconds(1 / rate))
        }
    }

    /// Pushes to a random subscription `rate` times a second, each until answered 201 (one at a time, so one
    /// device's pushes are taken in order).
    private func appServer(subscriptions: @Sendable () -> [String: String], rate: Double) async {
        guard rate > 0 else { return }
        var seq: [String: Int] = [:]
        while isRunning {
            guard let (device, subscription) = subscriptions().randomElement() else {
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            let n = (seq[device] ?? 0) + 1
            seq[device] = n
            let ttl = Self.ttl()
            while isRunning {
                let attempt = recorder.now
                if let answer = await LoopbackHTTP.request(.POST, port: pushPort, path: "/v1/push/\(subscription)",
                                                           headers: [("TTL", "\(Int(ttl))"), ("Content-Type", "text/plain")],
                                                           body: Array("#\(n)".utf8), timeout: .seconds(15)),
                   answer.status == 201, let id = ChaosPayload.string("id", in: Array(answer.body.utf8)) {
                    recorder.record { $0.sent.append(.init(channel: .push, device: device, id: "push-n-\(id)", seq: n, ttl: ttl, at: attempt)) }
                    break
                }
                try? await Task.sleep(for: .milliseconds(300))
            }
            try? await Task.sleep(for: .seconds(1 / rate))
        }
    }
}
