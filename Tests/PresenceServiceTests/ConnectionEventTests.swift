import Infrastructure
@testable import PresenceService
import Shared
import Testing

/// Reading the edges' connection event records (docs/kafka-contract.md, "Connection events").
struct ConnectionEventTests {
    private func record(_ headers: [String: String], key: String? = "d-1") -> KafkaRecord {
        KafkaRecord(topic: "cg.connections", partition: 2, offset: 7, key: key.map { Array($0.utf8) }, value: [],
                    headers: headers.sorted { $0.key < $1.key }.map { KafkaHeader($0.key, $0.value) })
    }

    private let valid = ["event": "connect", "device": "d-1", "edge": "edge-1", "session": "abc123", "epoch": "1700000000123",
                         "at": "1700000000456"]

    @Test func aCompleteRecordIsAnEvent() throws {
        #expect(try ConnectionEvent(record: record(valid)) == ConnectionEvent(
            kind: .connect, device: "d-1", edge: "edge-1", session: "abc123", epoch: 1_700_000_000_123, atMs: 1_700_000_000_456))
        var disconnect = valid
        disconnect["event"] = "disconnect"
        disconnect["at"] = nil
        let event = try ConnectionEvent(record: record(disconnect, key: nil))
        #expect(event.kind == .disconnect && event.atMs == nil, "`at` is informational, the key optional")
    }

    @Test func anEdgesStartIsItsOwnKindOfEvent() throws {
        let start = ["event": "start", "edge": "edge-7", "at": "1700000000456"]
        #expect(try ConnectionEventRecord(record: record(start, key: "edge-7")) == .started(edge: "edge-7", atMs: 1_700_000_000_456))
        #expect(try ConnectionEventRecord(record: record(valid)) == .connection(try ConnectionEvent(record: record(valid))))
        for (header, value) in [("edge", "edge 7"), ("edge", ""), ("at", "soon"), ("at", "-5")] {
            var broken = start
            broken[header] = value
            #expect(throws: ConnectionEvent.Invalid.self, "\(header)=\(value)") { try ConnectionEventRecord(record: record(broken, key: "edge-7")) }
        }
        var noAt = start
        noAt["at"] = nil
        #expect(throws: ConnectionEvent.Invalid.self) { try ConnectionEventRecord(record: record(noAt, key: "edge-7")) }
        var unknown = valid
        unknown["event"] = "reboot"
        #expect(throws: ConnectionEvent.Invalid.self) { try ConnectionEventRecord(record: record(unknown)) }
    }

    @Test func theLastOfARepeatedHeaderCounts() throws {
        var r = record(valid)
        r.headers.append(KafkaHeader("epoch", "1700000000999"))
        #expect(try ConnectionEvent(record: r).epoch == 1_700_000_000_999)
    }

    @Test func missingOrBadHeadersAreRefused() {
        var cases: [(String, [String: String], String?)] = []
        for name in ["event", "device", "edge", "session", "epoch"] {
            var headers = valid
            headers[name] = nil
            cases.append(("no \(name) header", headers, "d-1"))
        }
        cases.append(("unknown event \"hello\"", valid.merging(["event": "hello"]) { $1 }, "d-1"))
        cases.append(("the epoch \"12x\" is not a decimal number", valid.merging(["epoch": "12x"]) { $1 }, "d-1"))
        cases.append(("the epoch \"-1\" is not a decimal number", valid.merging(["epoch": "-1"]) { $1 }, "d-1"))
        cases.append(("the device header is not a device id", valid.merging(["device": "d 1"]) { $1 }, "d 1"))
        cases.append(("the key is not the device", valid, "d-2"))
        cases.append(("the edge header is not an edge id", valid.merging(["edge": "edge/1"]) { $1 }, "d-1"))
        for (expected, headers, key) in cases {
            do {
                _ = try ConnectionEvent(record: record(headers, key: key))
                Issue.record("accepted: \(expected)")
            } catch {
                #expect(error.description == expected)
            }
        }
    }
}
