import Testing
@testable import ChannelProtocol

@Suite struct JSONFrameCodecTests {
    func decode(_ text: String) throws(ProtocolError) -> Frame { try JSONFrameCodec.decode(Array(text.utf8)) }

    @Test func helloRoundTrip() throws {
        let frame = Frame.hello(Hello(device: "d-42", token: "a.b.c"))
        #expect(try JSONFrameCodec.decode(JSONFrameCodec.encode(frame)) == frame)
        #expect(String(decoding: JSONFrameCodec.encode(frame), as: UTF8.self) == #"{"type":"hello","device":"d-42","token":"a.b.c"}"#)
    }

    @Test func messageBodyKeepsTheSendersExactBytes() throws {
        let text = #"{"type":"msg","service":"echo","id":"m-1","body": { "a" : [1, 2.5e3, "\u00e9"] , "b":null} }"#
        guard case .msg(let m) = try decode(text) else { Issue.record("not a msg"); return }
        #expect(m.service == "echo" && m.id == "m-1")
        #expect(m.payload == .json(Array(#"{ "a" : [1, 2.5e3, "\u00e9"] , "b":null}"#.utf8)))
        let again = String(decoding: JSONFrameCodec.encode(.msg(m)), as: UTF8.self)
        #expect(again == #"{"type":"msg","service":"echo","id":"m-1","body":{ "a" : [1, 2.5e3, "\u00e9"] , "b":null}}"#)
    }

    @Test func binaryDataIsBase64() throws {
        let m = Message(service: "echo", id: "x", payload: .binary([0, 1, 2, 255]))
        let text = String(decoding: JSONFrameCodec.encode(.msg(m)), as: UTF8.self)
        #expect(text.contains(#""data":"AAEC/w==""#))
        #expect(try JSONFrameCodec.decode(Array(text.utf8)) == .msg(m))
    }

    @Test func everyFrameRoundTrips() throws {
        let frames: [Frame] = [
            .welcome(Welcome(edge: "edge-1", session: "s-1", heartbeatSeconds: 25, maxMessageBytes: 65536)),
            .ack(id: "m-\"quoted\"\\/é"),
            .error(ProtocolError(.unknownService, "no service named \"x\"", ref: "m-1")),
            .error(ProtocolError(.unavailable, "broker unreachable")),
            .reconnect(delayMs: 1500),
            .msg(Message(service: "push", id: "é-1", payload: .json(Array("\"just a string\"".utf8)))),
            .welcome(Welcome(edge: "edge-1", session: "s-1", heartbeatSeconds: 25, maxMessageBytes: 65536, tokenExpiresAt: 1_800_000_000)),
            .refresh(token: "a.b.c"),
            .refreshed(expiresAt: 1_800_000_000),
            .refreshDue(expiresAt: 1_800_000_060),
            .error(ProtocolError(.tokenExpired, "the token expired")),
            .error(ProtocolError(.revoked, "revoked")),
        ]
        for frame in frames { #expect(try JSONFrameCodec.decode(JSONFrameCodec.encode(frame)) == frame) }
    }

    @Test func tokenFramesReadTheirFields() throws {
        #expect(try JSONFrameCodec.decode(Array(#"{"type":"refresh","token":"t"}"#.utf8)) == .refresh(token: "t"))
        #expect(try JSONFrameCodec.decode(Array(#"{"type":"refresh_due","exp":1700000000}"#.utf8)) == .refreshDue(expiresAt: 1_700_000_000))
        #expect(String(decoding: JSONFrameCodec.encode(.refreshed(expiresAt: 5)), as: UTF8.self) == #"{"type":"refreshed","exp":5}"#)
        for bad in [#"{"type":"refresh"}"#, #"{"type":"refreshed"}"#, #"{"type":"refresh_due","exp":"x"}"#] {
            #expect(throws: ProtocolError.self) { try JSONFrameCodec.decode(Array(bad.utf8)) }
        }
    }

    @Test(arguments: [
        ("not json", ErrorCode.badFrame),
        ("[]", .badFrame),
        (#"{"type":"msg","service":"echo","id":"1","body":}"#, .badFrame),
        (#"{"type":"msg","service":"echo","id":"1"}"#, .badFrame),
        (#"{"type":"msg","service":"echo","id":"1","body":1,"data":"AA=="}"#, .badFrame),
        (#"{"type":"msg","service":"echo","id":"1","data":"***"}"#, .badFrame),
        (#"{"type":"msg","service":"Echo!","id":"1","body":1}"#, .unknownService),
        (#"{"type":"msg","service":"echo","id":"","body":1}"#, .invalidField),
        (#"{"type":"msg","service":"echo","id":"a\nb","body":1}"#, .invalidField),
        (#"{"type":"teleport"}"#, .unknownType),
        (#"{"device":"d"}"#, .badFrame),
        (#"{"type":7}"#, .badFrame),
        (#"{"type":"hello","device":"d 1","token":"t"}"#, .invalidField),
        (#"{"type":"hello","device":"d"}"#, .badFrame),
        (#"{"type":"ack","id":"1"} x"#, .badFrame),
    ])
    func rejects(_ text: String, _ code: ErrorCode) {
        #expect(throws: ProtocolError.self) { try decode(text) }
        do { _ = try decode(text) } catch { #expect(error.code == code, "\(text): \(error.message)") }
    }

    @Test func unknownTypeCarriesTheRef() {
        do { _ = try decode(#"{"type":"zap","id":"m-9"}"#) } catch { #expect(error.ref == "m-9") }
    }
}

@Suite struct JSONScannerTests {
    func valid(_ s: String) -> Bool { JSONScanner.isValidValue(Array(s.utf8)) }

    @Test func acceptsValidValues() {
        for s in ["0", "-0.5e-3", "\"a\\u00e9\\ud83d\\ude00\"", "[]", "{}", " [1,{\"a\":[null,true,false]}] ", "1E+2"] {
            #expect(valid(s), "\(s)")
        }
    }

    @Test func rejectsInvalidValues() {
        for s in ["", "01", "1.", ".5", "-", "+1", "[1,]", "{\"a\":1,}", "{a:1}", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"",
                  "\"a\nb\"", "nul", "[1 2]", "\"unterminated", "1 2", "{\"a\" 1}", "tru", "[", "{"] {
            #expect(!valid(s), "\(s)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            #expect(!JSONScanner.isValidValue(bytes))
        }
        #expect(JSONScanner.isValidValue(Array("\"h€llo 😀\"".utf8)))
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(!valid(deep))
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(valid(ok))
        let hugeDeep = String(repeating: "[", count: 100_000)
        #expect(!valid(hugeDeep))
    }

    @Test func decodesEscapedKeysAndStrings() throws {
        let object = try JSONScanner.object(Array(#"{"\u0074ype":"a\"b\\c\/d\u00e9\ud83d\ude00"}"#.utf8))
        #expect(try object.string("type") == "a\"b\\c/dé😀")
    }
}
