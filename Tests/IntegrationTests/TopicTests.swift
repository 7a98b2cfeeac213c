import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Logging
import Shared
import Testing

/// Topics end to end (docs/protocol.md, "Topics"): real edges, Redis and Tansu; backends publish on `cg.topics`.
@Suite("Topics", .serialized)
struct TopicTests {
    @Test("a message published once reaches the subscribers on both edges, in order, with its position and sender")
    func subscribePublishReceiveOnTwoEdges() async throws {
        let topic = TopicTests.uniqueTopic("news")
        let a = try await TopicTests.connect(TestCluster.uniqueDevice("topic-a"), edge: 0)
        let b = try await TopicTests.connect(TestCluster.uniqueDevice("topic-b"), edge: 1, encoding: .binary)
        try await a.subscribe(topic: topic)
        try await b.subscribe(topic: topic)
        let publisher = try await TopicPublisher()
        var sent: [TopicPosition] = []
        for i in 1...3 { sent.append(try await publisher.publish(topic, json: #"{"n":\#(i)}"#)) }
        for client in [a, b] {
            let got = try await client.topicEvents(3)
            #expect(got.map(\.position) == sent)
            #expect(got.allSatisfy { if case .event(let e) = $0 { return e.from == "test" && e.topic == topic } else { return false } })
            if case .event(let first) = got[0] { #expect(first.payload == .json(Array(#"{"n":1}"#.utf8))) }
        }
        await a.close()
        await b.close()
    }

    @Test("a device that reconnects to the other edge with its last position gets exactly what it missed, then live ones")
    func resumeAfterDisconnect() async throws {
        let topic = TopicTests.uniqueTopic("resume")
        let device = TestCluster.uniqueDevice("topic-resume")
        let publisher = try await TopicPublisher()
        let first = try await TopicTests.connect(device, edge: 0)
        try await first.subscribe(topic: topic)
        let p1 = try await publisher.publish(topic, json: "1")
        let seen = try await first.topicEvents(1)
        #expect(seen.map(\.position) == [p1])
        await first.close()
        var missed: [TopicPosition] = []
        for i in 2...4 { missed.append(try await publisher.publish(topic, json: "\(i)")) }
        // Other topics in between must not be replayed.
        _ = try await publisher.publish(TopicTests.uniqueTopic("noise"), json: "0")
        let again = try await TopicTests.connect(device, edge: 1)
        try await again.subscribe(topic: topic, after: p1)
        #expect(try await again.topicEvents(3).map(\.position) == missed)
        let p5 = try await publisher.publish(topic, json: "5")
        #expect(try await again.topicEvents(1).map(\.position) == [p5])
        await again.close()
    }

    @Test("resuming from before the edge started reads the broker; beyond the window it gets a gap, never silence")
    func gapWhenTheWindowIsExceeded() async throws {
        let topic = TopicTests.uniqueTopic("gap")
        let publisher = try await TopicPublisher()
        // The position a device would hold: the one before the messages it then missed.
        let held = try await publisher.publish(topic, json: "0")
        _ = try await publisher.publish(topic, json: "1")
        let old2 = try await publisher.publish(topic, json: "2")
        // The window leaves a loaded machine 8 s to start the edge and subscribe before `recent` leaves it too.
        try await Task.sleep(for: .seconds(8.5))
        let recent = try await publisher.publish(topic, json: "3")
        // A fresh edge: its log starts after these records, so the resume reads them from the broker.
        let edge = try await ExtraEdge.start(["--topic-replay-window", "8s"])
        defer { edge.stop() }
        let device = TestCluster.uniqueDevice("topic-gap")
        let client = try await TopicTests.connect(device, url: edge.url)
        try await client.subscribe(topic: topic, after: held)
        let got = try await client.topicEvents(2)
        #expect(got == [.gap(topic: topic, position: old2), got[1]])
        #expect(got[1].position == recent)
        await client.close()
    }

    @Test("a topic outside the token's patterns is forbidden; unsubscribe stops delivery; a second one is not_subscribed")
    func forbiddenPatternAndUnsubscribe() async throws {
        let device = TestCluster.uniqueDevice("topic-perm")
        let client = try await TopicTests.connect(device, edge: 0, topics: ["allowed.*", "user.{sub}.>"])
        await #expect(throws: DeviceClient.Failure.refused(ProtocolError(.forbiddenTopic, "this device may not subscribe to \"other.x\"", ref: "other.x"))) {
            try await client.subscribe(topic: "other.x")
        }
        await #expect(throws: DeviceClient.Failure.self) { try await client.subscribe(topic: "user.someone-else.inbox") }
        let own = "user.\(device).inbox.a"
        try await client.subscribe(topic: own)
        let topic = "allowed.\(UInt32.random(in: 0...UInt32.max))"
        try await client.subscribe(topic: topic)
        try await client.unsubscribe(topic: topic)
        do {
            try await client.unsubscribe(topic: topic)
            Issue.record("a second unsubscribe was accepted")
        } catch DeviceClient.Failure.refused(let error) {
            #expect(error.code == .notSubscribed)
            #expect(error.ref == topic)
        }
        let publisher = try await TopicPublisher()
        _ = try await publisher.publish(topic, json: "1")
        let marker = try await publisher.publish(own, json: "2")
        // Only the still-subscribed topic arrives: the unsubscribed one published before it does not.
        #expect(try await client.topicEvents(1).map(\.position) == [marker])
        await client.close()
    }

    @Test("a subscriber that stops reading holds nobody up, and gets everything once it reads again")
    func slowSubscriberBesideFastOnes() async throws {
        let topic = TopicTests.uniqueTopic("slow")
        let slow = try await TopicTests.connect(TestCluster.uniqueDevice("topic-slow"), edge: 0)
        let fast = try await TopicTests.connect(TestCluster.uniqueDevice("topic-fast"), edge: 0)
        try await slow.subscribe(topic: topic)
        try await fast.subscribe(topic: topic)
        slow.pauseReading()
        let publisher = try await TopicPublisher()
        let body = "\"" + String(repeating: "x", count: 2000) + "\""
        let count = 1500  // about 3 MB: far past the slow connection's outbound limit
        let positions = try await publisher.publishMany(topic, json: body, count: count)
        let fastGot = try await fast.topicEvents(count, within: 30)
        #expect(fastGot.map(\.position) == positions)
        slow.pauseReading(false)
        let slowGot = try await slow.topicEvents(count, within: 30)
        #expect(slowGot.map(\.position) == positions)
        await slow.close()
        await fast.close()
    }

    @Test("bad topic names, too many subscriptions and bad positions get clear errors; the connection stays")
    func badInput() async throws {
        let client = try await TopicTests.connect(TestCluster.uniqueDevice("topic-bad"), edge: 1, topics: [">"])
        func refusal(_ json: String) async throws -> ProtocolError? {
            client.sendText(json)
            for _ in 0..<200 {
                if case .frame(.error(let error)) = try await client.nextEvent(within: 5) { return error }
            }
            return nil
        }
        let long = String(repeating: "a", count: 201)
        for bad in [long, "news.*", "news.>", "", "new s", "näws"] {
            let error = try await refusal(#"{"type":"sub","topic":"\#(bad)"}"#)
            #expect(error?.code == .invalidField, "\(bad)")
        }
        #expect(try await refusal(#"{"type":"sub","topic":"a.b","pos":"garbage"}"#)?.code == .badPosition)
        #expect(try await refusal(#"{"type":"sub","topic":"a.b","pos":"01:5"}"#)?.code == .badPosition)
        #expect(try await refusal(#"{"type":"sub","topic":"a.b","pos":"-1:5"}"#)?.code == .badPosition)
        #expect(try await refusal(#"{"type":"sub","topic":"a.b","pos":"999:5"}"#)?.code == .badPosition)
        #expect(try await refusal(#"{"type":"sub","topic":"a.b","pos":"0:99999999999"}"#)?.code == .badPosition)
        #expect(try await refusal(#"{"type":"unsub","topic":"never.subscribed"}"#)?.code == .notSubscribed)
        for i in 0..<64 { client.send(frame: .subscribe(topic: "cap.\(i)", position: nil)) }
        #expect(try await refusal(#"{"type":"sub","topic":"cap.one-too-many"}"#)?.code == .tooManyTopics)
        // Still open and serving.
        try await client.unsubscribe(topic: "cap.0")
        try await client.subscribe(topic: "cap.now-room")
        await client.close()
    }

    @Test("10,000 subscriptions at once: the ones past the cap are refused, then the flood is closed with 4003")
    func subscriptionFlood() async throws {
        let flooder = try await TopicTests.connect(TestCluster.uniqueDevice("topic-flood"), edge: 0)
        for i in 0..<10_000 { flooder.send(frame: .subscribe(topic: "flood.\(i)", position: nil)) }
        let (subscribed, tooMany, code) = try await within(15, "the flood to end") { () async throws -> (Int, Int, UInt16?) in
            var subscribed = 0
            var tooMany = 0
            while true {
                switch try await flooder.nextEvent(within: 10) {
                case .frame(.subscribed): subscribed += 1
                case .frame(.error(let error)) where error.code == .tooManyTopics: tooMany += 1
                case .closed(let code): return (subscribed, tooMany, code)
                default: continue
                }
            }
        }
        #expect(subscribed == 64)
        #expect(tooMany > 0)
        #expect(code == CloseCode.tooFast.rawValue)
        // The edge goes on serving others.
        let other = try await TopicTests.connect(TestCluster.uniqueDevice("topic-after-flood"), edge: 0)
        try await other.subscribe(topic: "flood.0")
        await other.close()
    }

    static func uniqueTopic(_ name: String) -> String { "\(name).\(UInt32.random(in: 0...UInt32.max))" }

    static func connect(_ device: String, edge: Int, topics: [String] = [">"], encoding: FrameEncoding = .json) async throws -> DeviceClient {
        try await connect(device, url: try await TestCluster.shared.edgeURL(edge), topics: topics, encoding: encoding)
    }

    static func connect(_ device: String, url: String, topics: [String] = [">"], encoding: FrameEncoding = .json) async throws -> DeviceClient {
        let client = try await DeviceClient.connect(to: url, encoding: encoding)
        let token = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
            .mint(device: device, services: ["*"], topics: topics, ttl: .seconds(600))
        _ = try await client.hello(device: device, token: token)
        return client
    }
}

extension DeviceClient {
    /// The next `count` topic deliveries, waiting at most `seconds` for all.
    func topicEvents(_ count: Int, within seconds: Double = 15) async throws -> [TopicDelivery] {
        try await within(seconds, "\(count) topic events") {
            var got: [TopicDelivery] = []
            for await delivery in self.topicEvents {
                got.append(delivery)
                if got.count == count { return got }
            }
            throw DeviceClient.Failure.closed(code: nil)
        }
    }
}

/// Publishes topic records as a backend would (murmur2, keyed by topic).
final class TopicPublisher: Sendable {
    let producer: KafkaProducer

    init() async throws {
        var config = try await TestCluster.kafka
        config.producerProperties.merge(TopicRecord.producerProperties) { _, new in new }
        producer = try KafkaProducer(config: config, messageTimeout: .seconds(30), logger: .init(label: "topic-publisher"))
    }

    func publish(_ topic: String, json: String) async throws -> TopicPosition {
        let record = TopicRecord(topic: topic, service: "test", contentType: ContentType.json, payload: Array(json.utf8))
        let delivery = try await producer.send(record.record(topics: Topics(prefix: "cg")))
        return TopicPosition(partition: delivery.partition, offset: delivery.offset)
    }

    func publishMany(_ topic: String, json: String, count: Int) async throws -> [TopicPosition] {
        let record = TopicRecord(topic: topic, service: "test", contentType: ContentType.json, payload: Array(json.utf8))
            .record(topics: Topics(prefix: "cg"))
        let producer = self.producer
        let results = try await offload { producer.sendAllBlocking(Array(repeating: record, count: count), within: .seconds(60)) }
        return try results.map { result in
            let delivery = try result.get()
            return TopicPosition(partition: delivery.partition, offset: delivery.offset)
        }
    }
}

/// One more edge process on the shared cluster, with options the shared edges do not have.
struct ExtraEdge {
    let process: LocalProcess
    let url: String

    static func start(_ arguments: [String]) async throws -> ExtraEdge {
        let cluster = try await TestCluster.shared
        let port = try FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
        let id = "edge-extra-\(UInt32.random(in: 0...UInt32.max))"
        let process = try await offload { try cluster.startEdge(id: id, port: port, wait: true, extraArguments: arguments, listed: false) }
        return ExtraEdge(process: process, url: "ws://127.0.0.1:\(port)/v1/channel")
    }

    func stop() { _ = process.stop() }
}
