import ChannelProtocol
import Foundation
import Infrastructure
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Shared

/// The downstream scenario's backend: produces records to `<prefix>.down` for the devices in turn, as a backend of
/// any language would (key = device, the headers of ``DownstreamRecord`` with a ttl of 600 s), each payload starting
/// with its publish time, to the devices in turn or to a device drawn at random each time.
final class DownstreamPublisher: @unchecked Sendable {
    private let producer: KafkaProducer
    private let devices: [String]
    private let payloadBytes: Int
    /// Each message to a device drawn at random, rather than to the devices in turn.
    private let randomTargets: Bool
    private let topics = Topics(prefix: "cg")
    private let state = NIOLockedValueBox((published: 0, errors: 0, stopped: false))
    /// Where delivery failures are counted (the publishing thread is busy publishing).
    private let reports = MultiThreadedEventLoopGroup.singleton.next()

    init(bootstrap: String, devices: [String], payloadBytes: Int, randomTargets: Bool = false) throws {
        var logger = Logger(label: "bench-publisher")
        logger.logLevel = .warning
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap), messageTimeout: .seconds(30), logger: logger)
        self.devices = devices
        self.payloadBytes = max(payloadBytes, 8)
        self.randomTargets = randomTargets
    }

    var errors: Int { state.withLockedValue { $0.errors } }
    /// Records handed to the producer so far.
    var published: Int { state.withLockedValue { $0.published } }

    /// Publishes until stopped: `rate` records per second, or with `rate` 0 while `mayPublish(published)`, asked every
    /// 64 records, says so.
    /// Blocks the calling thread.
    func run(rate: Double, mayPublish: (Int) -> Bool) {
        let start = monotonicNanoseconds()
        var n = 0
        while !state.withLockedValue({ $0.stopped }) {
            if rate > 0 {
                let due = Int(Double(monotonicNanoseconds() - start) / 1e9 * rate)
                if n >= due { usleep(200); continue }
            } else if n % 64 == 0 && !mayPublish(n) {
                // Asked once per 64 records: the answer comes from the workers' reports, five times a second, and
                // summing them for every record would cost the generator more than the record.
                usleep(1000)
                continue
            }
            if publish(n) {
                n += 1
                state.withLockedValue { $0.published = n }
            } else {
                usleep(1000)
            }
        }
    }

    /// Stops publishing and closes the producer (before the cluster stops, so it does not retry a dead broker).
    func stop() {
        state.withLockedValue { $0.stopped = true }
        producer.shutdownBlocking(timeout: .seconds(2))
    }

    private func publish(_ n: Int) -> Bool {
        var value = withUnsafeBytes(of: monotonicNanoseconds().bigEndian) { Array($0) }
        value += Array(repeating: 0x2E, count: payloadBytes - 8)
        let device = randomTargets ? devices.randomElement()! : devices[n % devices.count]
        let record = DownstreamRecord(device: device, service: "bench", id: "bench-\(n)", contentType: ContentType.binary,
                                      ttlSeconds: 600, payload: value).record(topics: topics)
        let state = self.state
        do {
            try producer.send(record, on: reports).whenFailure { _ in state.withLockedValue { $0.errors += 1 } }
            return true
        } catch {
            return false
        }
    }
}
