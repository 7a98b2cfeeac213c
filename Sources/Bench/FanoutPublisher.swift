import ChannelProtocol
import Foundation
import Infrastructure
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Shared

/// The fanout scenario's publisher: produces topic records to `<prefix>.topics` as any backend would (``TopicRecord``,
/// murmur2 partitioner, service `bench`), each payload holding its publish time and a sequence number.
final class FanoutPublisher: @unchecked Sendable {
    private let producer: KafkaProducer
    private let topic: String
    private let payloadBytes: Int
    private let topics = Topics(prefix: "cg")
    private let state = NIOLockedValueBox((published: 0, delivered: 0, errors: 0))
    private let reports = MultiThreadedEventLoopGroup.singleton.next()

    init(bootstrap: String, topic: String, payloadBytes: Int, lingerMs: Int = 1) throws {
        var logger = Logger(label: "bench-fanout-publisher")
        logger.logLevel = .warning
        var properties = TopicRecord.producerProperties
        properties["linger.ms"] = "\(lingerMs)"
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap, producerProperties: properties),
                                     messageTimeout: .seconds(30), logger: logger)
        self.topic = topic
        self.payloadBytes = max(payloadBytes, 16)
    }

    /// Records published so far; the next one gets this sequence number.
    var published: Int { state.withLockedValue { $0.published } }
    /// Records the broker acknowledged, and those it refused.
    var delivered: Int { state.withLockedValue { $0.delivered } }
    var errors: Int { state.withLockedValue { $0.errors } }

    /// Publishes one record, numbered with the next sequence number.
    func publishOne() {
        let sequence = state.withLockedValue { s -> Int in
            defer { s.published += 1 }
            return s.published
        }
        var value = withUnsafeBytes(of: monotonicNanoseconds().bigEndian) { Array($0) }
        value += withUnsafeBytes(of: Int64(sequence).bigEndian) { Array($0) }
        value += Array(repeating: 0x2E, count: payloadBytes - 16)
        let record = TopicRecord(topic: topic, service: "bench", contentType: ContentType.binary, payload: value)
            .record(topics: topics)
        let state = self.state
        do {
            try producer.send(record, on: reports).whenComplete { result in
                state.withLockedValue {
                    if case .success = result { $0.delivered += 1 } else { $0.errors += 1 }
                }
            }
        } catch {
            state.withLockedValue { $0.errors += 1 }
        }
    }

    /// Publishes `rate` records per second on a fixed schedule for `seconds`; returns the number published.
    func publish(rate: Double, seconds: Double) async throws -> Int {
        let start = monotonicNanoseconds()
        let total = Int(rate * seconds)
        var n = 0
        while n < total {
            let due = min(total, Int(Double(monotonicNanoseconds() - start) / 1e9 * rate) + 1)
            while n < due {
                publishOne()
                n += 1
            }
            try await Task.sleep(for: .microseconds(max(200, Int(1e6 / rate / 2))))
        }
        return n
    }

    /// Waits until the broker acknowledged every record published (or `timeout` passes).
    func flush(timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while state.withLockedValue({ $0.delivered + $0.errors < $0.published }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func stop() { producer.shutdownBlocking(timeout: .seconds(2)) }
}
