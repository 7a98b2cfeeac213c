import Testing
@testable import ChannelProtocol

@Suite struct FrameEncodingTests {
    @Test(arguments: [
        ([], FrameEncoding?.some(.json)),
        (["channel.v1.json"], .json),
        (["channel.v1.bin"], .binary),
        (["x", "channel.v1.bin", "channel.v1.json"], .binary),
        (["channel.v1.json", "channel.v1.bin"], .json),
        (["x", "y", "channel.v1.json"], .json),
        (["x"], nil),
        ([""], nil),
        (["Channel.v1.bin", "channel.v1"], nil),
    ] as [([String], FrameEncoding?)])
    func negotiate(_ offered: [String], _ expected: FrameEncoding?) {
        #expect(FrameEncoding.negotiate(offered: offered) == expected, "\(offered)")
    }

    @Test func subprotocolsNameTheirEncodings() {
        #expect(FrameEncoding.json.subprotocol == "channel.v1.json")
        #expect(FrameEncoding.binary.subprotocol == "channel.v1.bin")
        #expect(FrameEncoding.json.subprotocol == JSONFrameCodec.subprotocol)
        #expect(FrameEncoding.binary.subprotocol == BinaryFrameCodec.subprotocol)
        for encoding in FrameEncoding.allCases {
            #expect(FrameEncoding(subprotocol: encoding.subprotocol) == encoding)
        }
        #expect(FrameEncoding(subprotocol: "channel.v1") == nil)
        #expect(FrameEncoding(subprotocol: " channel.v1.bin") == nil)
        #expect(FrameEncoding.allCases == [.json, .binary])
        #expect(!FrameEncoding.json.usesBinaryMessages)
        #expect(FrameEncoding.binary.usesBinaryMessages)
    }

    static let frames: [Frame] = [
        .hello(Hello(device: "d-1", token: "t.k")),
        .welcome(Welcome(edge: "edge-1", session: "s-1", heartbeatSeconds: 25, maxMessageBytes: 65536)),
        .msg(Message(service: "echo", id: "m-1", payload: .json(Array(#"{"a":[1,2]}"#.utf8)))),
        .msg(Message(service: "echo", id: "m-2", payload: .binary([0, 1, 2, 255]))),
        .ack(id: "m-\"1\"é"),
        .error(ProtocolError(.unknownService, "no service named \"chat\"", ref: "m-3")),
        .error(ProtocolError(.unavailable, "broker unreachable")),
        .reconnect(delayMs: 1500),
    ]

    @Test func jsonEncodesAndDecodesExactlyLikeJSONFrameCodec() throws {
        for frame in Self.frames {
            let bytes = FrameEncoding.json.encode(frame)
            #expect(bytes == JSONFrameCodec.encode(frame))
            #expect(try FrameEncoding.json.decode(bytes) == JSONFrameCodec.decode(bytes))
        }
        for text in ["", "not json", #"{"type":"teleport","id":"m-9"}"#, #"{"type":"msg","service":"Echo!","id":"1","body":1}"#] {
            #expect(decodeError(.json, Array(text.utf8)) == jsonError(Array(text.utf8)), "\(text)")
        }
    }

    @Test func binaryEncodesAndDecodesExactlyLikeBinaryFrameCodec() throws {
        for frame in Self.frames {
            let bytes = FrameEncoding.binary.encode(frame)
            #expect(bytes == BinaryFrameCodec.encode(frame))
            #expect(try FrameEncoding.binary.decode(bytes) == frame)
        }
        for bytes: [UInt8] in [[], [0x09], [0x05, 0x00], [0x03, 0x04] + Array("echo".utf8) + [0x01, 0x31, 0x7B]] {
            #expect(decodeError(.binary, bytes) == binaryError(bytes), "\(bytes)")
        }
    }

    /// Every frame decodes in either encoding to the same frame: the encodings are interchangeable.
    @Test func encodingsCarryTheSameFrames() throws {
        for frame in Self.frames {
            let fromJSON = try JSONFrameCodec.decode(JSONFrameCodec.encode(frame))
            #expect(try BinaryFrameCodec.decode(BinaryFrameCodec.encode(fromJSON)) == frame)
            let fromBinary = try BinaryFrameCodec.decode(BinaryFrameCodec.encode(frame))
            #expect(try JSONFrameCodec.decode(JSONFrameCodec.encode(fromBinary)) == frame)
        }
    }

    /// The same broken fields give the same error in both encodings.
    @Test func fieldRulesGiveTheSameErrorsInBothEncodings() {
        let cases: [(String, [UInt8])] = [
            (#"{"type":"hello","device":"d 1","token":"t"}"#, cat([0x01], field("d 1"), field("t"))),
            (#"{"type":"msg","service":"echo","id":"","body":1}"#, cat([0x03], field("echo"), field(""), Array("1".utf8))),
            (#"{"type":"msg","service":"Echo!","id":"1","body":1}"#, cat([0x03], field("Echo!"), field("1"), Array("1".utf8))),
            (#"{"type":"msg","service":"Echo!","id":"","body":1}"#, cat([0x03], field("Echo!"), field(""), Array("1".utf8))),
            (#"{"type":"ack","id":"a\u007fb"}"#, cat([0x05], field("a\u{7F}b"))),
            (#"{"type":"error","code":"nope","message":""}"#, cat([0x06], field("nope"), field(""), [0x00])),
        ]
        for (json, binary) in cases {
            let fromJSON = jsonError(Array(json.utf8))
            #expect(fromJSON != nil, "\(json)")
            #expect(binaryError(binary) == fromJSON, "\(json)")
        }
    }

    func decodeError(_ encoding: FrameEncoding, _ bytes: [UInt8]) -> ProtocolError? {
        do {
            _ = try encoding.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    func jsonError(_ bytes: [UInt8]) -> ProtocolError? {
        do {
            _ = try JSONFrameCodec.decode(bytes)
            return nil
        } catch {
            return error
        }
    }
}
