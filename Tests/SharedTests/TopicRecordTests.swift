import Infrastructure
import Testing
@testable import Shared

/// Records of the topic stream (`<prefix>.topics`, docs/kafka-contract.md "Topic records"): what a publisher writes
/// reads back the same at the edge, and a record that breaks the contract is refused.
@Suite struct TopicRecordTests {
    let topics = Topics(prefix: "cg")

    /// `record` as an edge's feed receives it.
    func consumed(_ record: OutgoingRecord, partition: Int32 = 2, offset: Int64 = 77) -> KafkaRecord {
        KafkaRecord(topic: record.topic, partition: partition, offset: offset, key: record.key, value: record.value,
                    headers: record.headers, timestampMs: 1_700_000_000_000)
    }

    func headers(_ record: OutgoingRecord) -> [String: String] {
        Dictionary(uniqueKeysWithValues: record.headers.map { ($0.name, String(decoding: $0.value, as: UTF8.self)) })
    }

    @Test func theStreamIsNamedAfterThePrefix() {
        #expect(topics.topicStream == "cg.topics")
        #expect(Topics(prefix: "prod-eu").topicStream == "prod-eu.topics")
    }

    @Test func aTopicRecordRoundTrips() {
        let message = TopicRecord(topic: "news.sports", service: "push", contentType: "application/json", id: "n-1",
                                  payload: Array(#"{"title":"goal"}"#.utf8))
        let record = message.record(topics: topics)
        #expect(record.topic == "cg.topics")
        #expect(record.key == Array("news.sports".utf8), "keyed by topic, so one topic keeps to one partition")
        #expect(record.value == Array(#"{"title":"goal"}"#.utf8))
        #expect(headers(record) == ["service": "push", "content-type": "application/json", "id": "n-1"])
        #expect(record.headers.map(\.name) == ["service", "content-type", "id"])
        #expect(TopicRecord(record: consumed(record)) == message)
    }

    @Test func withoutAnIdThereIsNoIdHeader() {
        let message = TopicRecord(topic: "a", service: "presence", contentType: "application/octet-stream", payload: [0, 255])
        let record = message.record(topics: topics)
        #expect(record.headers.map(\.name) == ["service", "content-type"])
        #expect(TopicRecord(record: consumed(record)) == message)
        let empty = TopicRecord(topic: "a", service: "presence", contentType: "application/octet-stream", payload: [])
        #expect(TopicRecord(record: consumed(empty.record(topics: topics))) == empty)
    }

    @Test func theContentTypeIsGuessedWhenAPublisherLeftItOut() {
        let json = KafkaRecord(topic: "cg.topics", partition: 0, offset: 1, key: Array("a.b".utf8), value: Array(#"[1, 2]"#.utf8),
                               headers: [KafkaHeader("service", "echo")])
        #expect(TopicRecord(record: json) == TopicRecord(topic: "a.b", service: "echo", contentType: "application/json",
                                                         payload: Array("[1, 2]".utf8)))
        var binary = json
        binary.value = [0xFF, 0x00]
        #expect(TopicRecord(record: binary)?.contentType == "application/octet-stream")
        var text = json
        text.value = Array("plain words".utf8)
        #expect(TopicRecord(record: text)?.contentType == "application/octet-stream")
    }

    @Test func aRepeatedHeaderCountsByItsLastValue() {
        var record = consumed(TopicRecord(topic: "a", service: "echo", contentType: "application/json", payload: Array("1".utf8))
            .record(topics: topics))
        record.headers.append(KafkaHeader("service", "push"))
        #expect(TopicRecord(record: record)?.service == "push")
    }

    @Test(arguments: [
        ("no key", nil),
        ("empty key", ""),
        ("key with a space", "news sports"),
        ("wildcard key", "news.*"),
        ("wildcard key >", "news.>"),
        ("key of 201 bytes", String(repeating: "k", count: 201)),
        ("non-ASCII key", "nöws"),
    ] as [(String, String?)])
    func aKeyThatIsNotATopicNameIsRefused(_ name: String, _ key: String?) {
        var record = consumed(TopicRecord(topic: "a", service: "echo", contentType: "application/json", payload: Array("1".utf8))
            .record(topics: topics))
        record.key = key.map { Array($0.utf8) }
        #expect(TopicRecord(record: record) == nil, "\(name)")
    }

    @Test func aKeyOfInvalidUTF8IsRefused() {
        var record = consumed(TopicRecord(topic: "a", service: "echo", contentType: "application/json", payload: Array("1".utf8))
            .record(topics: topics))
        record.key = [0x61, 0xFF]
        #expect(TopicRecord(record: record) == nil)
        record.key = Array(String(repeating: "k", count: 200).utf8)
        #expect(TopicRecord(record: record)?.topic.utf8.count == 200, "200 bytes is the longest topic")
    }

    @Test(arguments: [
        ("no service header", nil),
        ("empty service", ""),
        ("upper case service", "Echo"),
        ("service with a dot", "echo.v2"),
        ("service starting with -", "-echo"),
        ("service of 65 bytes", String(repeating: "s", count: 65)),
    ] as [(String, String?)])
    func aServiceHeaderThatIsNotAServiceNameIsRefused(_ name: String, _ service: String?) {
        var record = consumed(TopicRecord(topic: "a", service: "echo", contentType: "application/json", payload: Array("1".utf8))
            .record(topics: topics))
        record.headers.removeAll { $0.name == "service" }
        if let service { record.headers.append(KafkaHeader("service", service)) }
        #expect(TopicRecord(record: record) == nil, "\(name)")
    }

    @Test func publishersUseTheMurmur2Partitioner() {
        #expect(TopicRecord.producerProperties == ["partitioner": "murmur2_random"])
    }
}
