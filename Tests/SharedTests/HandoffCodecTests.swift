import NIOCore
import Testing
@testable import Shared

/// The hand-off wire format: every frame round trips, and broken input is an error, never a crash.
@Suite("HandoffCodec")
struct HandoffCodecTests {
    static let entry = MailboxEntry(seq: 1_700_000_000_000_123, id: "m-1\n", service: "echo",
                                    contentType: "application/octet-stream", expiresAtMs: 253_402_300_799_999,
                                    payload: [0, 13, 10, 255] + Array(repeating: 7, count: 300))
    static let frames: [HandoffFrame] = [
        .hello(version: HandoffFrame.version, edge: "edge-1", sender: "router-a", secret: "s3cret"),
        .welcome(edge: "edge-1", instance: "abc123"),
        .notices(batch: 42, [
            .message(device: "dév:1", session: "s1", entry: entry),
            .close(device: "d2", session: "s2"),
            .message(device: "d3", session: "", entry: MailboxEntry(seq: -1, id: "", service: "", contentType: "",
                                                                    expiresAtMs: 0, payload: [])),
        ]),
        .notices(batch: .max, []),
        .ack(batch: 42),
        .error("this is edge edge-2, not edge-1"),
        .notices(batch: 43, [
            .disconnect(device: "d4", session: "s4", code: 4010, reconnectAfterMs: nil),
            .disconnect(device: "dév:5", session: "s5", code: 1000, reconnectAfterMs: 0),
            .disconnect(device: "d6", session: "", code: 4999, reconnectAfterMs: 3_600_000),
        ]),
        .drain(batch: 44),
        .closed(batch: 43, sessions: ["s4", "", "s6"]),
        .closed(batch: 1, sessions: []),
    ]

    func encoded(_ frames: [HandoffFrame]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { HandoffCodec.encode(frame, into: &buffer) }
        return buffer
    }

    @Test func everyFrameRoundTripsBackToBack() throws {
        var buffer = encoded(Self.frames)
        var decoded: [HandoffFrame] = []
        while let frame = try HandoffCodec.decode(&buffer) { decoded.append(frame) }
        #expect(decoded == Self.frames)
        #expect(buffer.readableBytes == 0)
    }

    @Test func sizeOfANoticeIsWhatItTakes() {
        for notice in [HandoffNotice.message(device: "dév", session: "s", entry: Self.entry), .close(device: "d", session: "s"),
                       .disconnect(device: "dév", session: "s", code: 4010, reconnectAfterMs: 1500)] {
            let alone = encoded([.notices(batch: 1, [notice])]).readableBytes
            let empty = encoded([.notices(batch: 1, [])]).readableBytes
            #expect(alone - empty == HandoffCodec.size(of: notice))
        }
    }

    @Test func batchesAreSplitIntoFramesOfAboutAMebibyte() {
        let big = MailboxEntry(seq: 1, id: "x", service: "s", contentType: "c", expiresAtMs: 1, payload: Array(repeating: 1, count: 300_000))
        let notices = (0..<10).map { HandoffNotice.message(device: "d\($0)", session: "s", entry: big) }
        let frames = HandoffClient.split(notices)
        #expect(frames.count == 4)
        #expect(Array(frames.joined()) == notices)
        #expect(frames.allSatisfy { $0.reduce(0) { $0 + HandoffCodec.size(of: $1) } <= HandoffCodec.maxBatchBytes })
        // One notice larger than a frame's share still goes, alone.
        let huge = MailboxEntry(seq: 1, id: "x", service: "s", contentType: "c", expiresAtMs: 1, payload: Array(repeating: 1, count: 2 << 20))
        #expect(HandoffClient.split([.message(device: "d", session: "s", entry: huge)]).count == 1)
    }

    @Test func everyTruncationWaitsForMoreAndTakesNothing() throws {
        let whole = encoded([Self.frames[2]])
        for length in 0..<whole.readableBytes {
            var part = whole.getSlice(at: 0, length: length)!
            #expect(try HandoffCodec.decode(&part) == nil)
            #expect(part.readableBytes == length)
        }
    }

    @Test func aLengthPastTheLimitOrZeroIsRefusedBeforeTheBytesArrive() {
        var tooBig = ByteBuffer()
        tooBig.writeInteger(UInt32(HandoffCodec.defaultMaxFrameBytes + 1))
        #expect(throws: HandoffError.self) { try HandoffCodec.decode(&tooBig) }
        var small = encoded([Self.frames[2]])
        #expect {
            try HandoffCodec.decode(&small, maxFrameBytes: 100)
        } throws: { error in
            if case .tooBig = error as? HandoffError { return true }
            return false
        }
        var empty = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect(throws: HandoffError.malformed("empty frame")) { try HandoffCodec.decode(&empty) }
    }

    @Test func malformedFramesAreErrors() {
        func frame(_ body: [UInt8]) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt32(body.count))
            buffer.writeBytes(body)
            return buffer
        }
        let cases: [(String, [UInt8])] = [
            ("unknown type", [99]),
            ("ack too short", [4, 0, 0, 0]),
            ("ack with bytes left over", [4, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF]),
            ("string past the frame", [5, 0, 10, 65]),
            ("a count that cannot fit", [3, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]),
            ("unknown notice kind", [3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 9, 0, 0, 0, 0]),
            ("payload past the frame", Array(encodedBody(.notices(batch: 1, [.message(device: "d", session: "s", entry: Self.entry)])).dropLast())),
            ("hello without its strings", [1, 1]),
            ("drain too short", [6, 0, 0, 0, 0, 0, 0, 0]),
            ("drain with bytes left over", [6, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            ("closed with a count that cannot fit", [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]),
            ("closed with a session past the frame", [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 5, 65]),
            ("disconnect without its delay", [3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 3, 0, 1, 100, 0, 1, 115, 0x0F, 0xAA, 0, 0]),
        ]
        for (name, body) in cases {
            var buffer = frame(body)
            #expect(throws: HandoffError.self, "\(name)") { try HandoffCodec.decode(&buffer) }
        }
    }

    /// The operators' frames byte by byte, as docs/handoff.md gives them.
    @Test func operatorFramesHaveTheDocumentedBytes() throws {
        #expect(encodedBody(.drain(batch: 258)) == [6, 0, 0, 0, 0, 0, 0, 1, 2])
        #expect(encodedBody(.closed(batch: 1, sessions: ["ab"])) == [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 2, 97, 98])
        #expect(encodedBody(.notices(batch: 1, [.disconnect(device: "d", session: "s", code: 4010, reconnectAfterMs: 1500)]))
                == [3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 3, 0, 1, 100, 0, 1, 115, 0x0F, 0xAA, 0, 0, 0x05, 0xDC])
        // No delay is 0xFFFFFFFF; a delay of that many ms is written one less, so it still asks for a reconnect frame.
        #expect(encodedBody(.notices(batch: 1, [.disconnect(device: "d", session: "s", code: 1000, reconnectAfterMs: nil)])).suffix(6)
                == [0x03, 0xE8, 0xFF, 0xFF, 0xFF, 0xFF])
        var most = encoded([.notices(batch: 1, [.disconnect(device: "d", session: "s", code: 1000, reconnectAfterMs: .max)])])
        #expect(try HandoffCodec.decode(&most) == .notices(batch: 1, [.disconnect(device: "d", session: "s", code: 1000,
                                                                                   reconnectAfterMs: .max - 1)]))
    }

    func encodedBody(_ frame: HandoffFrame) -> [UInt8] {
        var buffer = encoded([frame])
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = XorShift(seed: 2026)
        let valid = encoded(Self.frames)
        for round in 0..<20_000 {
            var bytes = valid.getBytes(at: 0, length: valid.readableBytes)!
            // Flip a few bytes of a valid stream, or cut it, or write noise with a plausible length.
            switch round % 3 {
            case 0:
                for _ in 0..<(1 + Int(generator.next() % 4)) { bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next()) }
            case 1:
                bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
            default:
                let length = Int(generator.next() % 64)
                bytes = [0, 0, 0, UInt8(length)] + (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
            var buffer = ByteBuffer(bytes: bytes)
            while let frame = try? HandoffCodec.decode(&buffer) { _ = frame }
        }
    }
}

/// xorshift64*: deterministic, so a failing input can be found again.
struct XorShift {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}

@Suite("EdgeRecord")
struct EdgeRecordTests {
    @Test func roundTripsAndRefusesWhatDoesNotParse() {
        let record = EdgeRecord(instance: "i1", host: "fd00::1", port: 7443)
        #expect(EdgeRecord(value: record.value) == record)
        #expect(record.value == "i1 7443 fd00::1")
        for bad in ["", "i1", "i1 7443", "i1 0 h", "i1 70000 h", "i1 x h", " 7443 h", "i1 7443 "] {
            #expect(EdgeRecord(value: bad) == nil, "\(bad)")
        }
    }
}
