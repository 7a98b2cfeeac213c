import ChannelProtocol
import Infrastructure
import NIOCore
import Shared
import Testing
@testable import Edge

/// Device → service through one connection: the record published, the ack only once the broker has it, the
/// `unavailable` answers, and the backpressure on publishes in flight (docs/guarantees.md, "Device → service").
@Suite(.timeLimit(.minutes(1))) struct DevicePublishTests {
    func message(_ id: String) -> Frame { .msg(Message(service: "echo", id: id, payload: .json(Array(#"{"a":1}"#.utf8)))) }

    @Test func aMessageIsPublishedToItsServiceAndAckedOnlyOnceTheBrokerHasIt() async throws {
        let edge = try await TestEdge()
        let (line, session) = try await edge.welcomed("d-1")
        try await line.send(message("m-1"))
        let published = edge.publisher.records(on: "cg.up.echo")
        #expect(published.count == 1)
        #expect(published.first?.key == Array("d-1".utf8))
        let record = published.first.flatMap { UpstreamRecord(record: consumed($0), service: "echo") }
        #expect(record?.device == "d-1" && record?.service == "echo" && record?.id == "m-1")
        #expect(record?.payload == .json(Array(#"{"a":1}"#.utf8)))
        #expect(record?.edge == TestEdge.id && record?.session == session)
        #expect(try await line.written().isEmpty, "no ack before the delivery report")

        edge.publisher.deliver(edge.publisher.records.count - 1)
        #expect(try await line.written() == [.frame(.ack(id: "m-1"))])
        #expect(try await edge.end(line).isClean)
    }

    @Test func aFailedDeliveryIsUnavailableWithTheMessagesRef() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        try await line.send(message("m-1"))
        edge.publisher.deliver(edge.publisher.records.count - 1, .failure(KafkaError(code: 7, message: "timed out", isRetriable: true)))
        guard case .frame(.error(let error))? = try await line.written().first else {
            Issue.record("no error frame")
            return
        }
        #expect(error.code == .unavailable && error.ref == "m-1")
        #expect(line.channel.isActive)
        #expect(try await edge.end(line).isClean)
    }

    @Test func aProducerThatRefusesIsUnavailableAtOnce() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        edge.publisher.refusing = true
        try await line.send(message("m-1"))
        guard case .frame(.error(let error))? = try await line.written().first else {
            Issue.record("no error frame")
            return
        }
        #expect(error.code == .unavailable && error.ref == "m-1")
        #expect(line.reading, "a refused message holds nothing up")
        #expect(try await edge.end(line).isClean)
    }

    @Test func withTheMostPublishesInFlightTheConnectionStopsReadingUntilOneIsDelivered() async throws {
        let edge = try await TestEdge { $0.maxPublishesInFlight = 2 }
        let (line, _) = try await edge.welcomed("d-1")
        try await line.send(message("m-1"))
        #expect(line.reading)
        try await line.send(message("m-2"))
        #expect(!line.reading)
        let first = try #require(edge.publisher.records.firstIndex { $0.topic == "cg.up.echo" })
        edge.publisher.deliver(first)
        #expect(try await line.written() == [.frame(.ack(id: "m-1"))])
        #expect(line.reading)
        edge.publisher.deliver(first + 1)
        #expect(try await line.written() == [.frame(.ack(id: "m-2"))])
        #expect(try await edge.end(line).isClean)
    }
}
