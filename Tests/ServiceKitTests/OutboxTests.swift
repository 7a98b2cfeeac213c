import ChannelProtocol
import Infrastructure
@testable import ServiceKit
import Shared
import Testing

/// The SDK's records follow the Kafka contract (docs/kafka-contract.md) both ways.
@Suite struct OutboxTests {
    let topics = Topics(prefix: "cg")

    @Test func aReplyIsADownstreamRecordForTheSender() {
        var outbox = Outbox(topics: topics, service: "greet")
        let message = DeviceMessage(device: "d-1", service: "greet", id: "m-7", payload: .json(Array(#"{"a":1}"#.utf8)))
        outbox.reply(to: message, id: "greet-m-7", payload: .binary([1, 2, 3]), ttl: .seconds(90))
        let record = outbox.records[0]
        #expect(record.topic == "cg.down")
        #expect(record.key == Array("d-1".utf8))
        #expect(record.value == [1, 2, 3])
        let headers = Dictionary(uniqueKeysWithValues: record.headers.map { ($0.name, String(decoding: $0.value, as: UTF8.self)) })
        #expect(headers == ["device": "d-1", "service": "greet", "id": "greet-m-7", "content-type": "application/octet-stream",
                            "ttl": "90", "in-reply-to": "m-7"])
    }

    @Test func aSendNamesAnyDeviceWithoutInReplyTo() {
        var outbox = Outbox(topics: topics, service: "greet")
        outbox.send(to: "d-2", id: "greet-1", payload: .json(Array("true".utf8)))
        let keys = outbox.records[0].headers.map(\.name)
        #expect(keys == ["device", "service", "id", "content-type"])
        #expect(outbox.records[0].key == Array("d-2".utf8))
    }

    @Test func anUpstreamRecordBecomesADeviceMessage() {
        let record = KafkaRecord(topic: "cg.up.greet", partition: 2, offset: 41, key: Array("d-1".utf8), value: Array(#"{"x":[1]}"#.utf8),
                                 headers: [KafkaHeader("device", "d-1"), KafkaHeader("service", "greet"), KafkaHeader("id", "m-1"),
                                           KafkaHeader("content-type", "application/json"), KafkaHeader("edge", "edge-1"),
                                           KafkaHeader("session", "s-9"), KafkaHeader("received-at", "1700000000000")],
                                 timestampMs: nil)
        let message = DeviceMessage(record: record, service: "greet")
        #expect(message == DeviceMessage(device: "d-1", service: "greet", id: "m-1", payload: .json(Array(#"{"x":[1]}"#.utf8)),
                                         edge: "edge-1", session: "s-9", receivedAtMs: 1_700_000_000_000, partition: 2, offset: 41))
        let noDevice = KafkaRecord(topic: "cg.up.greet", partition: 0, offset: 0, key: nil, value: [], headers: [KafkaHeader("id", "m")],
                                   timestampMs: nil)
        #expect(DeviceMessage(record: noDevice, service: "greet") == nil)
    }
}
