import Foundation
import Testing
@testable import ChannelProtocol

/// Bytes from hex text; spaces are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// An unsigned LEB128 varint, written independently of the codec.
func leb128(_ value: Int) -> [UInt8] {
    var out: [UInt8] = []
    var rest = value
    while rest >= 0x80 {
        out.append(UInt8(rest & 0x7F) | 0x80)
        rest >>= 7
    }
    out.append(UInt8(rest))
    return out
}

/// A binary string field: varint length, then the UTF-8 bytes.
func field(_ s: String) -> [UInt8] { leb128(s.utf8.count) + Array(s.utf8) }

/// The concatenation of some byte arrays.
func cat(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

/// The error `bytes` decode to, or nil if they decode.
func binaryError(_ bytes: [UInt8]) -> ProtocolError? {
    do {
        _ = try BinaryFrameCodec.decode(bytes)
        return nil
    } catch {
        return error
    }
}

@Suite struct BinaryFrameCodecTests {
    func roundTrips(_ frame: Frame, sourceLocation: SourceLocation = #_sourceLocation) {
        let bytes = BinaryFrameCodec.encode(frame)
        #expect(bytes.count == BinaryFrameCodec.encodedSize(frame), sourceLocation: sourceLocation)
        do {
            let decoded = try BinaryFrameCodec.decode(bytes)
            #expect(decoded == frame, sourceLocation: sourceLocation)
            #expect(BinaryFrameCodec.encode(decoded) == bytes, sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(frame) does not decode: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func everyFrameKindRoundTrips() {
        let frames: [Frame] = [
            .hello(Hello(device: "d-42.x_y:z@w", token: "eyJ0eXAiOiJKV1QifQ.e30.sig")),
            .hello(Hello(device: "d", token: "")),
            .welcome(Welcome(edge: "edge-1", session: "2upkj71tuvfko16v4sm1", heartbeatSeconds: 25, maxMessageBytes: 65536)),
            .welcome(Welcome(edge: "", session: "", heartbeatSeconds: 0, maxMessageBytes: Int(UInt32.max))),
            .msg(Message(service: "echo", id: "m-1", payload: .json(Array(#"{"text":"hi","n":[1,2]}"#.utf8)))),
            .msg(Message(service: "push", id: "é-1", payload: .json(Array("\"just a string\"".utf8)))),
            .msg(Message(service: "echo", id: "m-2", payload: .binary([0, 1, 2, 255]))),
            .msg(Message(service: "echo", id: "m-3", payload: .binary([]))),
            .ack(id: "m-1"),
            .ack(id: "m-\"quoted\"\\/é 😀"),
            .error(ProtocolError(.unknownService, "no service named \"x\"", ref: "m-1")),
            .error(ProtocolError(.unavailable, "broker unreachable")),
            .error(ProtocolError(.badFrame, "", ref: "")),
            .reconnect(delayMs: 0),
            .reconnect(delayMs: 1500),
            .reconnect(delayMs: Int(UInt32.max)),
            .welcome(Welcome(edge: "edge-1", session: "s", heartbeatSeconds: 25, maxMessageBytes: 65536, tokenExpiresAt: 1_800_000_000)),
            .welcome(Welcome(edge: "e", session: "s", heartbeatSeconds: 1, maxMessageBytes: 1, tokenExpiresAt: 0)),
            .refresh(token: "a.b.c"),
            .refresh(token: ""),
            .refreshed(expiresAt: 1_800_000_000),
            .refreshDue(expiresAt: Int(UInt32.max)),
        ]
        for frame in frames { roundTrips(frame) }
        for code in ErrorCode.allCases { roundTrips(.error(ProtocolError(code, "m", ref: "r"))) }
    }

    @Test(arguments: [0, 1, 127, 128, 255, 16383, 16384, 65535, 2_097_151, 2_097_152])
    func lengthsCrossingVarintSizes(_ length: Int) {
        let text = String(repeating: "a", count: length)
        roundTrips(.hello(Hello(device: "d", token: text)))
        roundTrips(.error(ProtocolError(.badFrame, text, ref: text)))
        roundTrips(.msg(Message(service: "echo", id: "m", payload: .binary([UInt8](repeating: 7, count: length)))))
        let encoded = BinaryFrameCodec.encode(.hello(Hello(device: "d", token: text)))
        #expect(Array(encoded[3...]) == leb128(length) + Array(text.utf8))
    }

    @Test func integersCrossingVarintSizes() {
        for value in [0, 1, 127, 128, 16383, 16384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, Int(UInt32.max)] {
            roundTrips(.reconnect(delayMs: value))
            roundTrips(.welcome(Welcome(edge: "e", session: "s", heartbeatSeconds: value, maxMessageBytes: value)))
            #expect(BinaryFrameCodec.encode(.reconnect(delayMs: value)) == [0x07] + leb128(value))
        }
    }

    @Test func integersOutsideTheVarintRangeAreClamped() throws {
        #expect(try BinaryFrameCodec.decode(BinaryFrameCodec.encode(.reconnect(delayMs: -5))) == .reconnect(delayMs: 0))
        #expect(BinaryFrameCodec.encode(.reconnect(delayMs: 1 << 40)) == hex("07 ff ff ff ff 0f"))
    }

    @Test func nonASCIIStringsKeepTheirBytes() throws {
        let id = "é-😀-\u{301}e-ß-中"
        roundTrips(.ack(id: id))
        roundTrips(.msg(Message(service: "echo", id: id, payload: .json(Array("\"ünïcödé\"".utf8)))))
        #expect(BinaryFrameCodec.encode(.ack(id: id)) == [0x05] + leb128(id.utf8.count) + Array(id.utf8))
        // Canonically equivalent strings are equal in Swift but keep their own bytes on the wire.
        let composed = BinaryFrameCodec.encode(.ack(id: "\u{E9}"))
        let decomposed = BinaryFrameCodec.encode(.ack(id: "e\u{301}"))
        #expect(composed == hex("05 02 c3 a9") && decomposed == hex("05 03 65 cc 81"))
    }

    @Test func payloadIsTheRestOfTheFrame() throws {
        let body = Array(#" {"a" : [1, 2.5e3, "\u00e9"]}"#.utf8) + [0x0A]
        let bytes = [0x03] + field("echo") + field("m-1") + body
        #expect(try BinaryFrameCodec.decode(bytes) == .msg(Message(service: "echo", id: "m-1", payload: .json(body))))
        let binary = [0x04] + field("echo") + field("m-1") + body
        #expect(try BinaryFrameCodec.decode(binary) == .msg(Message(service: "echo", id: "m-1", payload: .binary(body))))
        #expect(try BinaryFrameCodec.decode([0x04] + field("echo") + field("m-1"))
                == .msg(Message(service: "echo", id: "m-1", payload: .binary([]))))
    }

    @Test func jsonPayloadNestsAsDeepAsABody() throws {
        let prefix = [0x03] + field("echo") + field("m-1")
        let ok = Array((String(repeating: "[", count: 31) + String(repeating: "]", count: 31)).utf8)
        #expect(try BinaryFrameCodec.decode(prefix + ok) == .msg(Message(service: "echo", id: "m-1", payload: .json(ok))))
        let tooDeep = Array((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8)
        #expect(binaryError(prefix + tooDeep)?.code == .badFrame)
        // The same limit as in the JSON encoding.
        let json = #"{"type":"msg","service":"echo","id":"m-1","body":"# + String(decoding: tooDeep, as: UTF8.self) + "}"
        #expect(throws: ProtocolError.self) { try JSONFrameCodec.decode(Array(json.utf8)) }
    }

    // MARK: Golden vectors (the same bytes are in docs/protocol.md)

    static let golden: [(Frame, String)] = [
        (.hello(Hello(device: "d-1", token: "t.k")), "01 03 64 2d 31 03 74 2e 6b"),
        (.welcome(Welcome(edge: "edge-1", session: "s-1", heartbeatSeconds: 25, maxMessageBytes: 65536)),
         "02 06 65 64 67 65 2d 31 03 73 2d 31 19 80 80 04"),
        (.msg(Message(service: "echo", id: "m-1", payload: .json(Array(#"{"a":1}"#.utf8)))),
         "03 04 65 63 68 6f 03 6d 2d 31 7b 22 61 22 3a 31 7d"),
        (.msg(Message(service: "echo", id: "m-2", payload: .binary([0x00, 0x01, 0x02, 0xFF]))),
         "04 04 65 63 68 6f 03 6d 2d 32 00 01 02 ff"),
        (.ack(id: "m-1"), "05 03 6d 2d 31"),
        (.error(ProtocolError(.unknownService, "no service named \"chat\"", ref: "m-3")),
         "06 0f 75 6e 6b 6e 6f 77 6e 5f 73 65 72 76 69 63 65 17 6e 6f 20 73 65 72 76 69 63 65 20 6e 61 6d 65 64 20 22 63 68 61 74 22 01 03 6d 2d 33"),
        (.error(ProtocolError(.unavailable, "broker unreachable")),
         "06 0b 75 6e 61 76 61 69 6c 61 62 6c 65 12 62 72 6f 6b 65 72 20 75 6e 72 65 61 63 68 61 62 6c 65 00"),
        (.reconnect(delayMs: 1500), "07 dc 0b"),
    ]

    @Test(arguments: 0..<golden.count)
    func goldenVectors(_ index: Int) throws {
        let (frame, text) = Self.golden[index]
        #expect(BinaryFrameCodec.encode(frame) == hex(text))
        #expect(try BinaryFrameCodec.decode(hex(text)) == frame)
    }

    /// docs/protocol.md shows the same golden vectors.
    @Test func documentationShowsTheGoldenVectors() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/protocol.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        guard let section = text.range(of: "## Binary encoding") else {
            Issue.record("docs/protocol.md has no binary encoding section")
            return
        }
        for (frame, bytes) in Self.golden {
            #expect(text[section.lowerBound...].contains("`\(bytes)`"), "\(frame) is not in the docs as `\(bytes)`")
        }
    }

    /// The size comparison in docs/protocol.md.
    @Test func sizeOfAHundredBytePayload() {
        let body = Array(("\"" + String(repeating: "x", count: 98) + "\"").utf8)
        let data = [UInt8](repeating: 0xAB, count: 100)
        let json = Frame.msg(Message(service: "echo", id: "m-1", payload: .json(body)))
        let binary = Frame.msg(Message(service: "echo", id: "m-1", payload: .binary(data)))
        #expect(JSONFrameCodec.encode(json).count == 150)
        #expect(JSONFrameCodec.encode(binary).count == 188)
        #expect(BinaryFrameCodec.encode(json).count == 110)
        #expect(BinaryFrameCodec.encode(binary).count == 110)
        let ack = Frame.ack(id: "m-1")
        #expect(JSONFrameCodec.encode(ack).count == 25 && BinaryFrameCodec.encode(ack).count == 5)
        let welcome = Self.golden[1].0
        #expect(JSONFrameCodec.encode(welcome).count == 89 && BinaryFrameCodec.encode(welcome).count == 16)
    }

    // MARK: Malformed input

    static let hello: [UInt8] = cat([0x01], field("d-1"), field("t"))
    static let msgHead: [UInt8] = cat(field("echo"), field("m-1"))

    static let malformed: [(String, [UInt8], ErrorCode, String?)] = [
        ("empty", [], .badFrame, nil),
        ("unknown tag 0x00", [0x00], .unknownType, nil),
        ("unknown tag 0x12", cat([0x12], field("m-1")), .unknownType, nil),
        ("unknown tag 0x7b", Array(#"{"type":"ack","id":"m-1"}"#.utf8), .unknownType, nil),
        ("tag only", [0x01], .badFrame, nil),
        ("truncated varint", [0x07, 0x80], .badFrame, nil),
        ("truncated varint, 4 bytes", [0x07, 0xFF, 0xFF, 0xFF, 0xFF], .badFrame, nil),
        ("overlong varint 0", [0x07, 0x80, 0x00], .badFrame, nil),
        ("overlong varint 1", [0x07, 0x81, 0x00], .badFrame, nil),
        ("overlong varint, 5 bytes", [0x07, 0x80, 0x80, 0x80, 0x80, 0x00], .badFrame, nil),
        ("overlong string length", [0x05, 0x83, 0x00, 0x6d, 0x2d, 0x31], .badFrame, nil),
        ("overflowing varint", [0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0x10], .badFrame, nil),
        ("overflowing varint, 6 bytes", [0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], .badFrame, nil),
        ("string length beyond the end", [0x05, 0x04, 0x6d, 0x2d, 0x31], .badFrame, nil),
        ("huge string length", [0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x6d], .badFrame, nil),
        ("invalid UTF-8 (lone continuation)", [0x05, 0x01, 0x80], .badFrame, nil),
        ("invalid UTF-8 (overlong /)", [0x05, 0x02, 0xC0, 0xAF], .badFrame, nil),
        ("invalid UTF-8 (surrogate)", [0x05, 0x03, 0xED, 0xA0, 0x80], .badFrame, nil),
        ("invalid UTF-8 (past U+10FFFF)", [0x05, 0x04, 0xF4, 0x90, 0x80, 0x80], .badFrame, nil),
        ("invalid UTF-8 (truncated sequence)", [0x05, 0x02, 0xE2, 0x82], .badFrame, nil),
        ("invalid UTF-8 in a token", cat([0x01], field("d-1"), [0x01, 0xFF]), .badFrame, nil),
        ("invalid UTF-8 in a service", cat([0x04, 0x02, 0xC3, 0x28], field("m-1")), .badFrame, nil),
        ("trailing bytes after hello", cat(hello, [0x00]), .badFrame, nil),
        ("trailing bytes after welcome", cat([0x02], field("e"), field("s"), [0x19, 0x01, 0x01, 0x01]), .badFrame, nil),
        ("trailing bytes after ack", cat([0x05], field("m-1"), [0x00]), .badFrame, "m-1"),
        ("trailing bytes after reconnect", [0x07, 0x01, 0x01], .badFrame, nil),
        ("trailing bytes after error", cat([0x06], field("too_big"), field(""), [0x00, 0x00]), .badFrame, nil),
        ("welcome without maxMessageBytes", cat([0x02], field("e"), field("s"), [0x19]), .badFrame, nil),
        ("error without flags", cat([0x06], field("too_big"), field("m")), .badFrame, nil),
        ("error flags 0x02", cat([0x06], field("too_big"), field("m"), [0x02]), .badFrame, nil),
        ("error flags 0x81", cat([0x06], field("too_big"), field("m"), [0x81], field("r")), .badFrame, nil),
        ("error ref flag without ref", cat([0x06], field("too_big"), field("m"), [0x01]), .badFrame, nil),
        ("error with an unknown code", cat([0x06], field("too_small"), field("m"), [0x00]), .invalidField, nil),
        ("error code in the wrong case", cat([0x06], field("Bad_Frame"), field("m"), [0x00]), .invalidField, nil),
        ("JSON payload that is not JSON", cat([0x03], msgHead, Array("not json".utf8)), .badFrame, "m-1"),
        ("JSON payload empty", cat([0x03], msgHead), .badFrame, "m-1"),
        ("JSON payload with trailing bytes", cat([0x03], msgHead, Array("1 2".utf8)), .badFrame, "m-1"),
        ("JSON payload invalid UTF-8", cat([0x03], msgHead, [0x22, 0xC0, 0xAF, 0x22]), .badFrame, "m-1"),
        ("msg without id", cat([0x04], field("echo")), .badFrame, nil),
        ("msg with a truncated id", cat([0x04], field("echo"), [0x05, 0x6d]), .badFrame, nil),
        ("bad device", cat([0x01], field("d 1"), field("t")), .invalidField, nil),
        ("empty device", cat([0x01], field(""), field("t")), .invalidField, nil),
        ("bad device before a missing token", cat([0x01], field("d/1")), .invalidField, nil),
        ("hello without token", cat([0x01], field("d-1")), .badFrame, nil),
        ("empty msg id", cat([0x04], field("echo"), field(""), [0x01]), .invalidField, nil),
        ("msg id with a control character", cat([0x04], field("echo"), field("a\nb")), .invalidField, nil),
        ("msg id of 129 bytes", cat([0x04], field("echo"), field(String(repeating: "i", count: 129))), .invalidField, nil),
        ("empty ack id", cat([0x05], field("")), .invalidField, nil),
        ("ack id with DEL", cat([0x05], field("a\u{7F}")), .invalidField, nil),
        ("bad service", cat([0x03], field("Echo!"), field("m-1"), Array("1".utf8)), .unknownService, "m-1"),
        ("empty service", cat([0x04], field(""), field("m-1")), .unknownService, "m-1"),
        ("id is checked before service", cat([0x04], field("Echo!"), field("")), .invalidField, nil),
        ("service is checked before the JSON payload", cat([0x03], field("Echo!"), field("m-1"), [0x7B]), .unknownService, "m-1"),
    ]

    @Test(arguments: malformed)
    func rejects(_ name: String, _ bytes: [UInt8], _ code: ErrorCode, _ ref: String?) {
        guard let error = binaryError(bytes) else {
            Issue.record("\(name): decoded")
            return
        }
        #expect(error.code == code, "\(name): \(error.message)")
        #expect(error.ref == ref, "\(name): \(error.message)")
    }

    @Test func rejectsEveryTruncationOfEveryFrame() {
        for (frame, text) in Self.golden {
            let bytes = hex(text)
            // A msg may end anywhere after its id (a shorter payload); everything else must be complete.
            var shortest = bytes.count
            if case .msg(let m) = frame { shortest = bytes.count - m.payload.bytes.count }
            for length in 0..<shortest {
                #expect(binaryError(Array(bytes[..<length])) != nil, "\(frame) cut to \(length) bytes")
            }
        }
    }

    @Test func errorMessagesNameTheField() {
        #expect(binaryError([0x02] + field("e") + field("s") + [0x80])?.message.contains("heartbeat") == true)
        #expect(binaryError([0x01] + field("d-1") + [0x05, 0x61])?.message.contains("token") == true)
        #expect(binaryError([0x12])?.message == "unknown frame tag 0x12")
        #expect(binaryError([0x0F])?.message.contains("token") == true)
    }

    @Test func everyTagByteIsHandled() {
        for tag in 0...255 {
            let error = binaryError([UInt8(tag)])
            if (1...17).contains(tag) {
                #expect(error?.code == .badFrame, "tag \(tag)")
            } else {
                #expect(error?.code == .unknownType, "tag \(tag)")
            }
        }
    }

    @Test func utf8ValidationFollowsRFC3629() {
        let valid: [[UInt8]] = [
            [], Array("abc".utf8), Array("h€llo 😀".utf8), [0x61, 0x00, 0x62], [0x7F], [0xC2, 0x80], [0xDF, 0xBF],
            [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBD], [0xF0, 0x90, 0x80, 0x80],
            [0xF4, 0x8F, 0xBF, 0xBF], Array("0123456789abcdéf0123456789".utf8),
        ]
        let invalid: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x9F, 0xBF], [0xE2, 0x82],
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xFE], [0xFF], Array("01234567".utf8) + [0xFF], Array("0123456".utf8) + [0xC3],
            Array("0123456789abcdef".utf8) + [0xE2, 0x82, 0x41],
        ]
        for sample in valid {
            #expect(validatedUTF8(sample[...]) == String(decoding: sample, as: UTF8.self), "\(sample)")
        }
        for sample in invalid { #expect(validatedUTF8(sample[...]) == nil, "\(sample)") }
        // Offsets inside a larger array, around the eight-byte ASCII steps.
        // A slice is valid when empty or when it neither starts nor ends inside a character (at a continuation byte).
        let long = Array("abcdefghé😀ijklmnopqrstuvwxyz".utf8)
        let insideACharacter = { (i: Int) in i < long.count && long[i] & 0xC0 == 0x80 }
        for start in 0..<long.count {
            for end in start...long.count {
                let slice = long[start..<end]
                let valid = start == end || (!insideACharacter(start) && !insideACharacter(end))
                #expect(validatedUTF8(slice) == (valid ? String(decoding: slice, as: UTF8.self) : nil), "\(start)..<\(end)")
            }
        }
        if #available(macOS 15, iOS 18, watchOS 11, tvOS 18, visionOS 2, *) {
            for sample in valid + invalid {
                #expect(validatedUTF8(sample[...]) == String(validating: sample, as: UTF8.self), "\(sample)")
            }
        }
    }

    /// Fuzz/run.sh does this at length; here a fixed seed keeps the test repeatable.
    @Test func decodingDoesNotTrapOnRandomInput() throws {
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...24, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty { bytes[0] = UInt8.random(in: 0...15, using: &generator) }
            if let frame = try? BinaryFrameCodec.decode(bytes) {
                #expect(try BinaryFrameCodec.decode(BinaryFrameCodec.encode(frame)) == frame)
            }
        }
    }
}

/// A small seeded generator (SplitMix64), so random tests are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
