import Infrastructure
@testable import Shared
import Testing

/// Every record of the Kafka contract (docs/kafka-contract.md) reads back what it writes, with the documented headers,
/// and a record that breaks the contract is refused.
@Suite struct ContractRecordTests {
    let topics = Topics(prefix: "cg")

    /// `record` as a consumer receives it from the broker.
    func consumed(_ record: OutgoingRecord, partition: Int32 = 3, offset: Int64 = 41) -> KafkaRecord {
        KafkaRecord(topic: record.topic, partition: partition, offset: offset, key: record.key, value: record.value,
                    headers: record.headers, timestampMs: 1_700_000_000_000)
    }

    func headers(_ record: OutgoingRecord) -> [String: String] {
        Dictionary(uniqueKeysWithValues: record.headers.map { ($0.name, String(decoding: $0.value, as: UTF8.self)) })
    }

    // MARK: Upstream

    @Test func anUpstreamRecordRoundTripsWithAllSevenHeaders() {
        let message = UpstreamRecord(device: "d-1", service: "greet", id: "m-1", payload: .json(Array(#"{"x":[1]}"#.utf8)),
                                     edge: "edge-1", session: "s-9", receivedAtMs: 1_700_000_000_123)
        let record = message.record(topic: "cg.up.greet")
        #expect(record.topic == "cg.up.greet")
        #expect(record.key == Array("d-1".utf8))
        #expect(record.value == Array(#"{"x":[1]}"#.utf8))
        #expect(headers(record) == ["device": "d-1", "service": "greet", "id": "m-1", "content-type": "application/json",
                                    "edge": "edge-1", "session": "s-9", "received-at": "1700000000123"])
        #expect(UpstreamRecord(record: consumed(record), service: "greet") == message)

        let binary = UpstreamRecord(device: "d-1", service: "greet", id: "m-2", payload: .binary([0, 255]))
        #expect(headers(binary.record(topic: "cg.up.greet"))["content-type"] == "application/octet-stream")
        #expect(UpstreamRecord(record: consumed(binary.record(topic: "cg.up.greet")), service: "greet") == binary)
    }

    @Test func anUpstreamRecordNeedsADeviceAndAnId() {
        let record = UpstreamRecord(device: "d-1", service: "greet", id: "m-1", payload: .binary([1])).record(topic: "cg.up.greet")
        for missing in ["device", "id"] {
            var broken = consumed(record)
            broken.headers.removeAll { $0.name == missing }
            #expect(UpstreamRecord(record: broken, service: "greet") == nil, "no \(missing) header")
        }
        var noService = consumed(record)
        noService.headers.removeAll { $0.name == "service" }
        #expect(UpstreamRecord(record: noService, service: "other")?.service == "other", "the topic's service stands in")
        var notJSON = consumed(record)
        notJSON.headers.append(KafkaHeader("content-type", "application/json"))
        #expect(UpstreamRecord(record: notJSON, service: "greet")?.payload == .binary([1]), "labelled JSON but is not")
    }

    // MARK: Downstream

    @Test func aDownstreamRecordRoundTrips() {
        let message = DownstreamRecord(device: "d-1", service: "echo", id: "echo-m-1", contentType: "application/json",
                                       ttlSeconds: 90, inReplyTo: "m-1", payload: Array("true".utf8))
        let record = message.record(topics: topics)
        #expect(record.topic == "cg.down")
        #expect(record.key == Array("d-1".utf8))
        #expect(headers(record) == ["device": "d-1", "service": "echo", "id": "echo-m-1", "content-type": "application/json",
                                    "ttl": "90", "in-reply-to": "m-1"])
        #expect(DownstreamRecord(record: consumed(record)) == message)

        let plain = DownstreamRecord(device: "d-1", service: "echo", id: "e-2", contentType: "application/octet-stream",
                                     payload: [])
        #expect(plain.record(topics: topics).headers.map(\.name) == ["device", "service", "id", "content-type"])
        #expect(DownstreamRecord(record: consumed(plain.record(topics: topics))) == plain)
    }

    @Test func aDownstreamRecordFillsInWhatABackendLeftOut() {
        let bare = KafkaRecord(topic: "cg.down", partition: 3, offset: 41, key: Array("d-1".utf8), value: Array(#"[1, 2]"#.utf8),
                               headers: [KafkaHeader("service", "echo")])
        #expect(DownstreamRecord(record: bare) == DownstreamRecord(device: "d-1", service: "echo", id: "3-41",
                                                                  contentType: "application/json", payload: Array("[1, 2]".utf8)))
        var binary = bare
        binary.value = [0xFF]
        #expect(DownstreamRecord(record: binary)?.contentType == "application/octet-stream")
        for (ttl, seconds) in [("600", 600), ("0", 0), ("-5", -5), ("soon", nil), ("1.5", nil)] as [(String, Int64?)] {
            var withTTL = bare
            withTTL.headers.append(KafkaHeader("ttl", ttl))
            #expect(DownstreamRecord(record: withTTL)?.ttlSeconds == seconds, "ttl \(ttl)")
        }
        var repeated = bare
        repeated.headers += [KafkaHeader("id", "first"), KafkaHeader("id", "last"), KafkaHeader("device", "someone-else")]
        #expect(DownstreamRecord(record: repeated)?.id == "last", "the last of a repeated header counts")
        #expect(DownstreamRecord(record: repeated)?.device == "d-1", "the key decides, not the device header")
    }

    @Test func aDownstreamRecordThatBreaksTheContractIsRefused() {
        let valid = DownstreamRecord(device: "d-1", service: "echo", id: "e-1", contentType: "application/json",
                                     payload: Array("1".utf8)).record(topics: topics)
        #expect(DownstreamRecord(record: consumed(valid)) != nil)
        var cases: [(String, KafkaRecord)] = []
        var record = consumed(valid)
        record.key = nil
        cases.append(("missing key", record))
        for key in ["", "d 1", "d/1", String(repeating: "d", count: 129)] {
            record = consumed(valid)
            record.key = Array(key.utf8)
            cases.append(("key \(key.prefix(8))", record))
        }
        record = consumed(valid)
        record.headers.removeAll { $0.name == "service" }
        cases.append(("missing service", record))
        for service in ["", "Echo", "-echo", "echo.v2", String(repeating: "s", count: 65)] {
            record = consumed(valid)
            record.headers.append(KafkaHeader("service", service))
            cases.append(("service \(service.prefix(8))", record))
        }
        for id in ["", "a\nb", "tab\t", String(repeating: "i", count: 129)] {
            record = consumed(valid)
            record.headers.append(KafkaHeader("id", id))
            cases.append(("id \(id.prefix(8).debugDescription)", record))
        }
        for (what, record) in cases {
            #expect(DownstreamRecord(record: record) == nil, "\(what)")
        }
    }

    // MARK: Reports

    @Test func aReportRoundTrips() {
        let entry = MailboxEntry(seq: 7, id: "echo-1", service: "echo", contentType: "application/octet-stream",
                                 expiresAtMs: 1_700_000_086_400, payload: [0, 1, 2])
        for reason in [ReportRecord.Reason.expired, .mailboxFull] {
            let report = ReportRecord(device: "d-1", entry: entry, reason: reason)
            let record = report.record(topics: topics)
            #expect(record.topic == "cg.report.echo")
            #expect(record.key == Array("d-1".utf8))
            #expect(record.value == [0, 1, 2])
            #expect(headers(record) == ["device": "d-1", "service": "echo", "id": "echo-1",
                                        "content-type": "application/octet-stream",
                                        "reason": reason == .expired ? "expired" : "mailbox_full",
                                        "expires-at": "1700000086400"])
            #expect(ReportRecord(record: consumed(record)) == report)
        }
    }

    @Test func aRecordThatIsNotAReportIsRefused() {
        let valid = ReportRecord(device: "d-1", service: "echo", id: "echo-1", contentType: "application/json", reason: .expired,
                                 expiresAtMs: 5, payload: []).record(topics: topics)
        #expect(ReportRecord(record: consumed(valid)) != nil)
        for name in ["device", "service", "id", "content-type", "reason", "expires-at"] {
            var record = consumed(valid)
            record.headers.removeAll { $0.name == name }
            #expect(ReportRecord(record: record) == nil, "no \(name) header")
        }
        for (name, value) in [("device", "d 1"), ("service", "Echo"), ("id", ""), ("id", "a\u{7F}"), ("reason", "lost"),
                              ("expires-at", "soon")] {
            var record = consumed(valid)
            record.headers.append(KafkaHeader(name, value))
            #expect(ReportRecord(record: record) == nil, "\(name) \(value.debugDescription)")
        }
    }

    // MARK: Connection events

    @Test func connectionEventsRoundTrip() throws {
        for kind in [ConnectionEvent.Kind.connect, .disconnect] {
            let event = ConnectionEvent(kind: kind, device: "d-1", edge: "edge-1", session: "abc123", epoch: 1_700_000_000_123,
                                        atMs: 1_700_000_000_456)
            let record = ConnectionEventRecord.connection(event).record(topics: topics)
            #expect(record.topic == "cg.connections")
            #expect(record.key == Array("d-1".utf8))
            #expect(record.value.isEmpty)
            #expect(headers(record) == ["event": kind.rawValue, "device": "d-1", "edge": "edge-1", "session": "abc123",
                                        "epoch": "1700000000123", "at": "1700000000456"])
            #expect(try ConnectionEventRecord(record: consumed(record)) == .connection(event))
            #expect(try ConnectionEvent(record: consumed(record)) == event)
        }
        let start = ConnectionEventRecord.started(edge: "edge-7", atMs: 1_700_000_000_789)
        let record = start.record(topics: topics)
        #expect(record.key == Array("edge-7".utf8))
        #expect(headers(record) == ["event": "start", "edge": "edge-7", "at": "1700000000789"])
        #expect(try ConnectionEventRecord(record: consumed(record)) == start)
        #expect(throws: ConnectionEvent.Invalid(description: "unknown event \"start\"")) {
            try ConnectionEvent(record: consumed(record))
        }
    }

    @Test func aConnectionEventWithABadDeviceIsRefused() {
        let event = ConnectionEvent(kind: .connect, device: "d-1", edge: "edge-1", session: "s", epoch: 1, atMs: 2)
        var record = consumed(ConnectionEventRecord.connection(event).record(topics: topics))
        record.key = nil
        record.headers.append(KafkaHeader("device", "d 1"))
        #expect(throws: ConnectionEvent.Invalid(description: "the device header is not a device id")) {
            try ConnectionEventRecord(record: record)
        }
    }
}
