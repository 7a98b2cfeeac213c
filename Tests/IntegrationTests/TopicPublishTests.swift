import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// App servers publish to device topics through the push service (`POST /v1/topics/{topic}`, docs/push.md): the
/// answer names the position of the one record on `<prefix>.topics`, whose key, headers and value follow the contract
/// (``TopicRecord``). A `gateway push` of its own, with topic keys, on the shared cluster's Redis and Tansu.
@Suite(.timeLimit(.minutes(3)))
struct TopicPublishTests {
    static let key = "test-topic-key"
    /// A prefix of its own, so this push service shares no consumer group or topic with the cluster's.
    static let prefix = "tpub"

    /// The HTTP API of the publishing push service, started on first use and stopped when the tests exit.
    static var pushURL: String {
        get async throws { try await starting.value }
    }

    private static let starting = Task { () throws -> String in
        let cluster = try await TestCluster.shared
        return try await offload {
            let port = try FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
            let process = try LocalProcess(
                name: "push-topics", executable: TestCluster.gatewayExecutable,
                arguments: ["push", "--host", "127.0.0.1", "--port", "\(port)", "--topic-api-keys", "other-key,\(key)",
                            "--kafka", cluster.broker.bootstrap, "--redis", cluster.redisSeeds, "--prefix", prefix,
                            "--kafka-consumer-property", "fetch.wait.max.ms=5", "--exit-with-stdin"],
                logFile: cluster.options.logDirectory.map { "\($0)/push-topics.log" })
            _ = try process.waitForLine(containing: "push ready", timeout: 60)
            return "http://127.0.0.1:\(port)"
        }
    }

    func publish(_ topic: String, body: [UInt8], headers: [(String, String)] = [("Content-Type", "application/json")],
                 key: String? = TopicPublishTests.key, to url: String? = nil) async throws -> HTTPReply {
        var all = headers
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        let base: String
        if let url { base = url } else { base = try await Self.pushURL }
        return try await HTTPTestClient.send(base, "POST", "/v1/topics/\(topic)", headers: all, body: body)
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func aPublishIsOneRecordOnTheTopicStreamAtTheAnsweredPosition() async throws {
        _ = try await Self.pushURL  // the service created the topic stream
        let consumer = try KafkaConsumer(config: try await TestCluster.kafka, groupID: nil, logger: .init(label: "topic-publish-test"))
        defer { consumer.close() }
        try await offload { try consumer.assignFromEnd(topic: "\(Self.prefix).topics") }

        let topic = "news.eu-\(UInt32.random(in: 0...UInt32.max))"
        let json = try await publish(topic, body: Array(#"{"hello":"topics"}"#.utf8))
        #expect(json.status == 201, "\(json.text)")
        #expect(json.header("Content-Type") == "application/json")
        let answer = try Self.object(json.body)
        #expect(answer["topic"] as? String == topic)
        let position = try #require((answer["pos"] as? String).flatMap { TopicPosition($0) })

        let binary: [UInt8] = [0xFF, 0x00, 0x7B]
        let second = try await publish(topic, body: binary, headers: [("Content-Type", "application/octet-stream")])
        #expect(second.status == 201)
        let later = try #require((try Self.object(second.body)["pos"] as? String).flatMap { TopicPosition($0) })
        #expect(later.partition == position.partition && later.offset > position.offset, "one topic, one partition, in order")
        // Declared JSON that is not JSON goes out as binary.
        #expect(try await publish(topic, body: Array("{nope".utf8)).status == 201)

        let records = try await offload { () -> [KafkaRecord] in
            var found: [KafkaRecord] = []
            let deadline = Date().addingTimeInterval(20)
            while found.count < 3 && Date() < deadline {
                found += try consumer.poll(maxRecords: 100, timeout: .milliseconds(200)).filter { $0.key == Array(topic.utf8) }
            }
            return found
        }
        try #require(records.count == 3)
        #expect(Array(records.map { TopicPosition(partition: $0.partition, offset: $0.offset) }.prefix(2)) == [position, later],
                "the answered positions are the records'")
        #expect(records.map(\.value) == [Array(#"{"hello":"topics"}"#.utf8), binary, Array("{nope".utf8)])
        #expect(records.map { $0.headerString("content-type") } == ["application/json", "application/octet-stream", "application/octet-stream"])
        for record in records {
            #expect(record.headerString("service") == "push", "devices see it from push")
            #expect(Set(record.headers.map(\.name)) == ["service", "content-type"])
        }
        #expect(TopicRecord(record: records[0]) == TopicRecord(topic: topic, service: "push", contentType: "application/json",
                                                               payload: Array(#"{"hello":"topics"}"#.utf8)))
    }

    @Test func refusedPublishesSayWhy() async throws {
        let base = try await Self.pushURL
        func refusal(_ reply: HTTPReply) -> String? {
            (try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])?["error"] as? String
        }

        let noKey = try await publish("news", body: [], key: nil)
        #expect(noKey.status == 401 && (refusal(noKey)) == "unauthorized")
        #expect(try await publish("news", body: [], key: "wrong").status == 401)
        #expect(try await publish("news", body: [], key: "other-key").status == 201, "any of the keys")
        for topic in ["news.*", "news.%3E", "a%2Fb", String(repeating: "t", count: 201)] {
            let bad = try await publish(topic, body: [])
            #expect(bad.status == 400 && (refusal(bad)) == "bad_topic", "\(topic): \(bad.text)")
        }
        let tooBig = try await publish("news", body: [UInt8](repeating: 0x61, count: 4097))
        #expect(tooBig.status == 413 && (refusal(tooBig)) == "payload_too_large")
        #expect(try await HTTPTestClient.send(base, "GET", "/v1/topics/news").status == 405)

        // The cluster's push service has no topic keys: its endpoint is off.
        let off = try await publish("news", body: [], to: try #require(try await TestCluster.shared.pushURL))
        #expect(off.status == 403 && (refusal(off)) == "topics_disabled")
    }
}
