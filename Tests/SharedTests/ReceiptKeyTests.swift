import Infrastructure
import Testing
@testable import Shared

/// Receipt key names and the receipt fields of the contract records (pure).
@Suite("Receipt keys and headers")
struct ReceiptKeyTests {
    @Test func receiptKeysShareTheDeviceSlotAndNeverCollide() {
        let keys = RedisKeys(prefix: "cg")
        for device in ["d1", "a}b", "{x}", "dev:1@x", "ü"] {
            #expect(RedisKeySlot.slot(of: keys.receipt(device: device, id: "m")) == RedisKeySlot.slot(of: keys.mailbox(device)), "\(device)")
        }
        #expect(keys.receipt(device: "a}b", id: "c") != keys.receipt(device: "a", id: "b}c"))
        #expect(keys.receipt(device: "a", id: "1:b") != keys.receipt(device: "a:1", id: "b"))
        #expect(keys.receipt(device: "d1", id: "m") == "cg:rcpt:2:{d1}m")
    }

    @Test func theReceiptMarkRoundTripsThroughTheStoredValue() {
        var entry = MailboxEntry(seq: 0, id: "m", service: "echo", contentType: "text/plain", expiresAtMs: 5,
                                 payload: Array("p q\n".utf8), receipt: true)
        #expect(String(decoding: entry.storedValue.prefix(11), as: UTF8.self) == "5 4 10 r\nec")
        #expect(MailboxEntry(seq: 0, id: "m", storedValue: entry.storedValue) == entry)
        entry.receipt = false
        #expect(MailboxEntry(seq: 0, id: "m", storedValue: entry.storedValue) == entry)
        #expect(MailboxEntry(seq: 0, id: "m", storedValue: Array("5 4 10 x\nechotext/plain".utf8))?.receipt == false)
    }

    @Test func theDownstreamReceiptHeaderIsOneOnlyWhenAsked() throws {
        let topics = Topics(prefix: "cg")
        for asked in [true, false] {
            let message = DownstreamRecord(device: "d1", service: "echo", id: "m", contentType: "text/plain",
                                           payload: [1], receipt: asked)
            let out = message.record(topics: topics)
            #expect(out.headers.contains { $0.name == "receipt" } == asked)
            #expect(DownstreamRecord(record: Self.consumed(out)) == message)
        }
        var other = DownstreamRecord(device: "d1", service: "echo", id: "m", contentType: "text/plain", payload: []).record(topics: topics)
        other.headers.append(KafkaHeader("receipt", "yes"))
        #expect(DownstreamRecord(record: Self.consumed(other))?.receipt == false, "only 1 asks")
    }

    @Test func deliveredAndAckedReportsRoundTrip() throws {
        for reason in [ReportRecord.Reason.delivered, .acked] {
            let report = ReportRecord(device: "d1", service: "echo", id: "m", contentType: "text/plain", reason: reason,
                                      expiresAtMs: 9, payload: [7])
            let out = report.record(topics: Topics(prefix: "cg"))
            #expect(out.topic == "cg.report.echo")
            #expect(ReportRecord(record: Self.consumed(out)) == report)
        }
    }

    static func consumed(_ record: OutgoingRecord) -> KafkaRecord {
        KafkaRecord(topic: record.topic, partition: 0, offset: 1, key: record.key, value: record.value, headers: record.headers)
    }
}
