import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// Topics under faults: what was published to a topic reaches every subscriber, whatever edge dies.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct TopicFaultTests {
    /// `kill -9` of the edge holding half the subscribers, while messages are published: its devices reconnect to the
    /// other edge, subscribe again from the last position they processed, and end with every message, in order.
    @Test func killingAnEdgeLosesNoTopicMessage() async throws {
        let f = try await FaultCluster.start("topic-kill")
        defer { f.stop() }
        let topic = "fault.news.\(UInt32.random(in: 0...UInt32.max))"
        let producer = f.producer
        func publish(_ values: [String]) async throws -> [TopicPosition] {
            let records = values.map {
                TopicRecord(topic: topic, service: "fault", contentType: ContentType.json, payload: Array($0.utf8))
                    .record(topics: Topics(prefix: "cg"))
            }
            let results = try await offload { producer.sendAllBlocking(records, within: .seconds(60)) }
            return try results.map { result in
                let delivery = try result.get()
                return TopicPosition(partition: delivery.partition, offset: delivery.offset)
            }
        }
        // Every device subscribes from this position, so none misses what follows however late it connects.
        let start = try await publish(["\"start\""])[0]
        let authority = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        var followers: [TopicFollower] = []
        for i in 0..<200 {
            let id = "tk-\(i)"
            let token = try await authority.mint(device: id, services: ["*"], topics: ["fault.>"], ttl: .seconds(3600))
            let urls = [f.cluster.edgeURL(i % 2), f.cluster.edgeURL(1 - i % 2)]
            let device = PersistentDevice(device: id, urls: urls, minBackoff: .milliseconds(50), maxBackoff: .seconds(2)) { token }
            followers.append(TopicFollower(device))
        }
        for follower in followers { try await follower.start(topic, after: start) }
        let all = followers
        try await within(60, "200 devices to connect") {
            while all.contains(where: { $0.device.connections == 0 }) { try await Task.sleep(for: .milliseconds(50)) }
        }
        var published: [TopicPosition] = []
        for round in 0..<10 {
            if round == 4 { f.cluster.edges[0].process.crash() }
            published += try await publish((0..<5).map { "\(round * 5 + $0)" })
            try await Task.sleep(for: .milliseconds(200))
        }
        let expected = published
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && all.contains(where: { $0.positions.count < expected.count }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let complete = all.filter { $0.positions == expected }.count
        let gaps = all.reduce(0) { $0 + $1.gaps }
        print("fault topic kill -9 edge-1: \(all.count) subscribers, \(expected.count) messages, complete and in order \(complete), gaps \(gaps)")
        #expect(complete == all.count, "subscribers missing messages or out of order")
        #expect(gaps == 0)
        #expect(all.filter { $0.device.connections >= 2 }.count >= 100, "the killed edge's devices reconnected")
        for follower in all { await follower.device.stop() }
    }
}

/// A persistent device following one topic: the positions it got, in order.
final class TopicFollower: @unchecked Sendable {
    let device: PersistentDevice
    private let lock = NSLock()
    private var got: [TopicPosition] = []
    private var gapCount = 0

    init(_ device: PersistentDevice) {
        self.device = device
    }

    /// Subscribes before connecting, so the first connection subscribes from `position`.
    func start(_ topic: String, after position: TopicPosition) async throws {
        try await device.subscribe(topic: topic, after: position)
        device.start()
        Task {
            for await delivery in device.topicDeliveries {
                lock.withLock {
                    if case .gap = delivery { gapCount += 1 } else { got.append(delivery.position) }
                }
            }
        }
    }

    var positions: [TopicPosition] { lock.withLock { got } }
    var gaps: Int { lock.withLock { gapCount } }
}
