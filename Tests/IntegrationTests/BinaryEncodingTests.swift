import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// The binary encoding (`channel.v1.bin`) through real edges, Kafka and Redis: negotiation, the exact payload bytes in
/// Kafka, mixed encodings on one device's traffic, and refusals.
@Suite(.timeLimit(.minutes(3)))
struct BinaryEncodingTests {
    @Test func theEdgeAnswersTheFirstOfferedEncodingItSpeaks() async throws {
        let url = try await TestCluster.shared.edgeURL(0)
        let binary = try await DeviceClient.connect(to: url, subprotocols: ["x-other", "channel.v1.bin", "channel.v1.json"])
        #expect(binary.encoding == .binary)
        await binary.close()
        let json = try await DeviceClient.connect(to: url, subprotocols: ["channel.v1.json", "channel.v1.bin"])
        #expect(json.encoding == .json)
        await json.close()
        let none = try await DeviceClient.connect(to: url, subprotocols: [])
        #expect(none.encoding == .json)
        await none.close()
    }

    @Test(arguments: [0, 1])
    func echoRoundTripsInBinaryWithExactBytes(edge: Int) async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("bin-echo"), edge: edge, encoding: .binary)
        let opaque: [UInt8] = (0...255).map { UInt8($0) } + [0, 0, 0xFF]
        let first = try await client.send(service: "echo", payload: .binary(opaque))
        let reply = try await client.nextMessage()
        #expect(reply.id == "echo-\(first)" && reply.payload == .binary(opaque))
        let json = Array(#"{"a": [1, 2.50, "x"]}"#.utf8)
        try await client.send(service: "echo", payload: .json(json))
        #expect(try await client.nextMessage().payload == .json(json), "a JSON payload keeps its exact bytes")
        await client.close()
    }

    @Test func theKafkaRecordHoldsThePayloadBytesAsSent() async throws {
        let device = TestCluster.uniqueDevice("bin-contract")
        let consumer = try KafkaConsumer(config: try await TestCluster.kafka, groupID: nil, logger: .init(label: "test"))
        try await offload { try consumer.assignFromEnd(topic: "cg.up.contract") }
        let client = try await TestCluster.connect(device, edge: 1, encoding: .binary)
        let payload: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF] + Array("binary".utf8)
        let id = try await client.send(service: "contract", payload: .binary(payload))
        let record = try await offload { () throws -> KafkaRecord in
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                for r in try consumer.poll(maxRecords: 100, timeout: .milliseconds(200)) where r.key == Array(device.utf8) { return r }
            }
            throw BinaryEncodingTestError.notFound
        }
        #expect(record.value == payload)
        #expect(record.headerString(RecordHeader.messageID) == id)
        #expect(record.headerString(RecordHeader.contentType) == ContentType.binary)
        await client.close()
    }

    @Test func aTextMessageOnABinaryConnectionIsABadFrame() async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("bin-text"), edge: 0, encoding: .binary)
        client.sendText(#"{"type":"ack","id":"x"}"#)
        guard case .frame(.error(let error)) = try await client.nextEvent(where: { if case .frame(.welcome) = $0 { return false }; return true })
        else { Issue.record("no error frame"); return }
        #expect(error.code == .badFrame)
        // The connection stays usable.
        try await client.send(service: "echo", payload: .binary([1, 2, 3]))
        await client.close()
    }

    @Test func aMalformedBinaryFrameGetsItsErrorAndTheConnectionStaysOpen() async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("bin-bad"), edge: 1, encoding: .binary)
        client.sendBinary([0x03, 0x04, 0x65, 0x63, 0x68, 0x6F, 0x01, 0x61, 0x7B])   // msg echo/a with payload "{"
        guard case .frame(.error(let error)) = try await client.nextEvent(where: { if case .frame(.welcome) = $0 { return false }; return true })
        else { Issue.record("no error frame"); return }
        #expect(error.code == .badFrame && error.ref == "a")
        client.sendBinary([0x7F])   // a tag no frame has
        guard case .frame(.error(let unknown)) = try await client.nextEvent() else { Issue.record("no error frame"); return }
        #expect(unknown.code == .unknownType)
        try await client.send(service: "echo", payload: .binary([9]))
        await client.close()
    }
}

enum BinaryEncodingTestError: Error { case notFound }

extension DeviceClient {
    /// The next event that `matches`, skipping others, waiting at most `seconds`.
    func nextEvent(within seconds: Double = 10, where matches: @escaping @Sendable (DeviceClient.Event) -> Bool) async throws -> DeviceClient.Event {
        try await within(seconds, "a frame") {
            for await event in self.events where matches(event) { return event }
            return .closed(code: nil)
        }
    }
}
