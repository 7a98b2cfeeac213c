import ChannelProtocol
import Infrastructure
@testable import ServiceKit
import Shared
import Testing

/// Publishing to device topics through the SDK: the records follow the contract (``TopicRecord``), bad names are
/// refused before anything is sent, and publishing producers partition as topic records need.
@Suite struct TopicPublishingTests {
    let topics = Topics(prefix: "cg")

    @Test func aPublishIsOneTopicRecordInTheOutbox() throws {
        var outbox = Outbox(topics: topics, service: "news")
        outbox.send(to: "d-1", id: "news-1", payload: .json(Array("1".utf8)))
        try outbox.publish(topic: "news.eu", payload: .json(Array(#"{"h":"x"}"#.utf8)), id: "news-7")
        try outbox.publish(topic: "user.d-1:inbox@x", payload: .binary([0, 1]))
        #expect(outbox.records.map(\.topic) == ["cg.down", "cg.topics", "cg.topics"], "in the order put in")
        let record = outbox.records[1]
        #expect(record.key == Array("news.eu".utf8))
        #expect(record.value == Array(#"{"h":"x"}"#.utf8))
        let headers = record.headers.map { "\($0.name)=\(String(decoding: $0.value, as: UTF8.self))" }
        #expect(headers == ["service=news", "content-type=application/json", "id=news-7"])
        #expect(outbox.records[2].headers.map(\.name) == ["service", "content-type"], "no id when none is given")

        // What an edge reads back is what was published.
        let consumed = KafkaRecord(topic: "cg.topics", partition: 1, offset: 9, key: record.key, value: record.value,
                                   headers: record.headers, timestampMs: nil)
        #expect(TopicRecord(record: consumed) == TopicRecord(topic: "news.eu", service: "news", contentType: ContentType.json,
                                                             id: "news-7", payload: Array(#"{"h":"x"}"#.utf8)))
    }

    @Test func namesDevicesCouldNotSubscribeToAreRefusedAndNothingIsAdded() {
        var outbox = Outbox(topics: topics, service: "news")
        for topic in ["", "news.*", "news.>", "a b", "a/b", "é", String(repeating: "n", count: 201)] {
            #expect(throws: InvalidTopicName.self, "\(topic)") { try outbox.publish(topic: topic, payload: .binary([])) }
        }
        #expect(outbox.records.isEmpty)
        do {
            try InvalidTopicName.check("news.*")
            Issue.record("a wildcard is refused")
        } catch {
            #expect(error.message.contains("wildcard") && error.description.contains("news.*"))
        }
        #expect((try? InvalidTopicName.check(String(repeating: "n", count: 200))) != nil, "200 bytes fit")
    }

    @Test func publishingProducersUseTheMurmur2Partitioner() {
        let kafka = KafkaConfig(bootstrapServers: "b:9092", properties: ["partitioner": "random"],
                                producerProperties: ["partitioner": "consistent", "linger.ms": "5"])
        let publishing = kafka.forTopicPublishing
        #expect(publishing.producerProperties == ["partitioner": "murmur2_random", "linger.ms": "5"])
        #expect(publishing.properties == kafka.properties, "applied last to producers, which overrides the rest")
        #expect(publishing.consumerProperties.isEmpty)
    }
}
