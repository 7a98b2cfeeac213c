import Infrastructure
import Logging
import NIOCore
import NIOEmbedded
import Shared
import TestDoubles
@testable import Router

/// A ``DownstreamRouter`` over fakes, joining its hand-offs on an embedded loop that runs what is due whenever a
/// fake's future is completed from the test.
struct TestRouter {
    let loop = EmbeddedEventLoop()
    let mailbox = FakeMailboxStore()
    let edges = FakeEdgeRecords()
    let handoff: FakeNoticeSender
    let publisher = FakePublisher()
    let router: DownstreamRouter
    let config: RouterConfig

    init(_ configure: (inout RouterConfig) -> Void = { _ in }) {
        var config = RouterConfig()
        configure(&config)
        self.config = config
        handoff = FakeNoticeSender(eventLoop: loop)
        router = DownstreamRouter(config: config, mailbox: mailbox, edges: edges, handoff: handoff, producer: publisher,
                                  eventLoop: loop, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// A record of `cg.down` for `device` as a backend sends it, as the router consumes it.
    static func record(_ device: String, id: String, service: String = "echo", ttl: Int64? = nil,
                       timestampMs: Int64? = nil, offset: Int64 = 0) -> KafkaRecord {
        let sent = DownstreamRecord(device: device, service: service, id: id, contentType: "application/json",
                                    ttlSeconds: ttl, payload: Array(#"{"to":"\#(device)"}"#.utf8)).record(topics: Topics(prefix: "cg"))
        return KafkaRecord(topic: sent.topic, partition: 0, offset: offset, key: sent.key, value: sent.value,
                           headers: sent.headers, timestampMs: timestampMs)
    }

    /// The reports produced, decoded.
    var reports: [ReportRecord] {
        publisher.records.compactMap {
            ReportRecord(record: KafkaRecord(topic: $0.topic, partition: 0, offset: 0, key: $0.key, value: $0.value, headers: $0.headers))
        }
    }
}
