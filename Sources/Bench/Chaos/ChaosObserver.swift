import ChaosCheck
import Foundation
import Infrastructure
import Lifecycle
import Logging
import Shared

/// Reads, beside the services, what reached them: every record on the up topics of echo and presence (in a consumer
/// group of its own, so the services' groups are untouched), and every report on the report topics of the chaos
/// backend and push. It never commits: after a rebalance it reads from the start again, and repeats of a record
/// (same partition and offset) are ignored.
final class ChaosObserver: Sendable {
    private let thread: DedicatedThread

    init(recorder: ChaosRecorder, bootstrap: String, seed: UInt64) throws {
        var logger = Logger(label: "chaos-observer")
        logger.logLevel = .critical
        let topics = Topics(prefix: "cg")
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: bootstrap), groupID: "chaos-observer-\(seed)", logger: logger)
        let upTopics = ["echo", "presence"].map { (topics.up($0), $0) }
        try consumer.subscribe(topics: upTopics.map(\.0) + [topics.report(ChaosSenders.service), topics.report("push")])
        let serviceOfTopic = Dictionary(uniqueKeysWithValues: upTopics)
        thread = DedicatedThread(name: "chaos observer") { thread in
            var seen = Set<String>()
            while !thread.isStopRequested {
                guard let batch = try? consumer.poll(maxRecords: 1000, timeout: .milliseconds(100)) else {
                    _ = thread.pause(for: .milliseconds(200))
                    continue
                }
                for record in batch where seen.insert("\(record.topic)|\(record.partition)|\(record.offset)").inserted {
                    if let service = serviceOfTopic[record.topic] {
                        guard let up = UpstreamRecord(record: record, service: service) else { continue }
                        let seq = ChaosPayload.seq(in: up.payload.bytes) ?? -1
                        recorder.record { $0.reached.append(.init(service: service, device: up.device, id: up.id, seq: seq)) }
                    } else if let report = ReportRecord(record: record), report.reason == .expired {
                        recorder.record { _ = $0.expired.insert("\(report.device)|\(report.id)") }
                    }
                }
            }
            consumer.close()
        }
        thread.start()
    }

    func stop() async {
        thread.requestStop()
        _ = await thread.finished(within: .seconds(15))
    }
}
