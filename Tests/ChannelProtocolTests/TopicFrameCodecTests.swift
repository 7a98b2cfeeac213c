import Testing
@testable import ChannelProtocol

/// The error `text` decodes to in the JSON encoding, or nil if it decodes.
private func jsonError(_ text: String) -> ProtocolError? {
    do {
        _ = try JSONFrameCodec.decode(Array(text.utf8))
        return nil
    } catch {
        return error
    }
}

private func at(_ partition: Int32, _ offset: Int64) -> TopicPosition {
    TopicPosition(partition: partition, offset: offset)
}

/// The topic frames (`sub`, `unsub`, `subscribed`, `unsubscribed`, `event`, `gap`) in both encodings, and the rules
/// of topic names and positions they share.
@Suite struct TopicFrameCodecTests {
    static let frames: [Frame] = [
        .subscribe(topic: "news.sports", position: nil),
        .subscribe(topic: "news.sports", position: at(0, 42)),
        .subscribe(topic: "user.d-1:x@y_z", position: at(Int32.max, Int64.max)),
        .subscribe(topic: String(repeating: "t", count: TopicRules.maxTopicBytes), position: at(3, 0)),
        .unsubscribe(topic: "news.sports"),
        .subscribed(topic: "news.sports"),
        .unsubscribed(topic: "news.sports"),
        .event(TopicEvent(topic: "news.sports", position: at(2, 17), from: "push",
                          payload: .json(Array(#"{"title":"goal","n":[1,2]}"#.utf8)))),
        .event(TopicEvent(topic: "news.sports", position: at(0, 0), from: "echo",
                          payload: .json(Array("\"ünïcödé\"".utf8)))),
        .event(TopicEvent(topic: "a", position: at(1, 5), from: "presence", payload: .binary([0, 1, 2, 255]))),
        .event(TopicEvent(topic: "a", position: at(1, 6), from: "presence", payload: .binary([]))),
        .gap(topic: "news.sports", position: at(4, 1_000_000)),
    ]

    // MARK: Round trips

    @Test(arguments: 0..<frames.count)
    func roundTripsInJSON(_ index: Int) throws {
        let frame = Self.frames[index]
        let bytes = JSONFrameCodec.encode(frame)
        #expect(try JSONFrameCodec.decode(bytes) == frame, "\(String(decoding: bytes, as: UTF8.self))")
    }

    @Test(arguments: 0..<frames.count)
    func roundTripsInBinary(_ index: Int) throws {
        let frame = Self.frames[index]
        let bytes = BinaryFrameCodec.encode(frame)
        #expect(bytes.count == BinaryFrameCodec.encodedSize(frame))
        let decoded = try BinaryFrameCodec.decode(bytes)
        #expect(decoded == frame)
        #expect(BinaryFrameCodec.encode(decoded) == bytes, "the binary encoding is canonical")
    }

    @Test(arguments: 0..<frames.count)
    func bothEncodingsCarryTheSameFrame(_ index: Int) throws {
        let frame = Self.frames[index]
        let viaJSON = try JSONFrameCodec.decode(JSONFrameCodec.encode(frame))
        #expect(try BinaryFrameCodec.decode(BinaryFrameCodec.encode(viaJSON)) == frame)
        #expect(FrameEncoding.json.encode(frame) == JSONFrameCodec.encode(frame))
        #expect(FrameEncoding.binary.encode(frame) == BinaryFrameCodec.encode(frame))
    }

    @Test func typeNames() {
        let names = Self.frames.map(\.typeName)
        #expect(names == ["sub", "sub", "sub", "sub", "unsub", "subscribed", "unsubscribed", "event", "event", "event",
                          "event", "gap"])
    }

    // MARK: The JSON text the docs show

    @Test func jsonTextOfEachFrame() {
        func text(_ frame: Frame) -> String { String(decoding: JSONFrameCodec.encode(frame), as: UTF8.self) }
        #expect(text(.subscribe(topic: "news.sports", position: nil)) == #"{"type":"sub","topic":"news.sports"}"#)
        #expect(text(.subscribe(topic: "news.sports", position: at(0, 42)))
                == #"{"type":"sub","topic":"news.sports","pos":"0:42"}"#)
        #expect(text(.unsubscribe(topic: "news.sports")) == #"{"type":"unsub","topic":"news.sports"}"#)
        #expect(text(.subscribed(topic: "news.sports")) == #"{"type":"subscribed","topic":"news.sports"}"#)
        #expect(text(.unsubscribed(topic: "news.sports")) == #"{"type":"unsubscribed","topic":"news.sports"}"#)
        #expect(text(.event(TopicEvent(topic: "news.sports", position: at(0, 42), from: "push",
                                       payload: .json(Array(#"{"title":"goal"}"#.utf8)))))
                == #"{"type":"event","topic":"news.sports","pos":"0:42","from":"push","body":{"title":"goal"}}"#)
        #expect(text(.event(TopicEvent(topic: "t", position: at(1, 2), from: "echo", payload: .binary([0, 1, 2, 255]))))
                == #"{"type":"event","topic":"t","pos":"1:2","from":"echo","data":"AAEC/w=="}"#)
        #expect(text(.gap(topic: "news.sports", position: at(3, 99))) == #"{"type":"gap","topic":"news.sports","pos":"3:99"}"#)
    }

    @Test func jsonDecodesWhatADeviceWrites() throws {
        #expect(try JSONFrameCodec.decode(Array(#"{"type":"sub","topic":"news.sports"}"#.utf8))
                == .subscribe(topic: "news.sports", position: nil))
        #expect(try JSONFrameCodec.decode(Array(#" { "pos" : "7:1234", "topic" : "news.sports", "type" : "sub" } "#.utf8))
                == .subscribe(topic: "news.sports", position: at(7, 1234)))
        #expect(try JSONFrameCodec.decode(Array(#"{"type":"unsub","topic":"news.sports"}"#.utf8)) == .unsubscribe(topic: "news.sports"))
        // An event's body keeps the publisher's exact bytes.
        let event = #"{"type":"event","topic":"n","pos":"0:1","from":"push","body": { "a" : [1, 2.5e3] } }"#
        #expect(try JSONFrameCodec.decode(Array(event.utf8))
                == .event(TopicEvent(topic: "n", position: at(0, 1), from: "push", payload: .json(Array(#"{ "a" : [1, 2.5e3] }"#.utf8)))))
    }

    // MARK: Binary layout

    static let golden: [(Frame, String)] = [
        (.subscribe(topic: "a.b", position: nil), "08 03 61 2e 62 00"),
        (.subscribe(topic: "a.b", position: at(0, 1)), "08 03 61 2e 62 03 30 3a 31"),
        (.unsubscribe(topic: "a.b"), "09 03 61 2e 62"),
        (.subscribed(topic: "a.b"), "0a 03 61 2e 62"),
        (.unsubscribed(topic: "a.b"), "0b 03 61 2e 62"),
        (.event(TopicEvent(topic: "a.b", position: at(0, 1), from: "echo", payload: .json(Array("[1]".utf8)))),
         "0c 03 61 2e 62 03 30 3a 31 04 65 63 68 6f 5b 31 5d"),
        (.event(TopicEvent(topic: "a.b", position: at(0, 1), from: "echo", payload: .binary([0x00, 0xFF]))),
         "0d 03 61 2e 62 03 30 3a 31 04 65 63 68 6f 00 ff"),
        (.gap(topic: "a.b", position: at(2, 10)), "0e 03 61 2e 62 04 32 3a 31 30"),
    ]

    @Test(arguments: 0..<golden.count)
    func binaryLayout(_ index: Int) throws {
        let (frame, text) = Self.golden[index]
        #expect(BinaryFrameCodec.encode(frame) == hex(text))
        #expect(try BinaryFrameCodec.decode(hex(text)) == frame)
    }

    @Test func binaryRejectsEveryTruncation() {
        for (frame, text) in Self.golden {
            let bytes = hex(text)
            // An event may end anywhere after `from` (a shorter payload); every other frame must be complete.
            var shortest = bytes.count
            if case .event(let event) = frame { shortest = bytes.count - event.payload.bytes.count }
            for length in 1..<shortest {
                let error = binaryError(Array(bytes[..<length]))
                #expect(error?.code == .badFrame, "\(frame) cut to \(length) bytes: \(String(describing: error))")
            }
        }
    }

    @Test func aJSONEventCutInsideItsPayloadIsRefused() {
        let bytes = hex("0c 03 61 2e 62 03 30 3a 31 04 65 63 68 6f 5b 31 5d")
        for length in (bytes.count - 3)..<bytes.count {
            let error = binaryError(Array(bytes[..<length]))
            #expect(error?.code == .badFrame && error?.ref == "a.b", "cut to \(length)")
        }
    }

    @Test func binaryTopicStringsLongerThanTheFrameAreRefused() {
        #expect(binaryError(cat([0x08], leb128(5), Array("a.b".utf8)))?.code == .badFrame)
        #expect(binaryError(cat([0x08], field("a.b"), leb128(4), Array("0:1".utf8)))?.code == .badFrame)
        #expect(binaryError(cat([0x0E], field("a.b"), [0x80]))?.code == .badFrame)
    }

    @Test func binaryTrailingBytesAreRefusedWithTheTopic() {
        for bytes in [cat([0x08], field("a.b"), field("0:1"), [0x00]), cat([0x08], field("a.b"), field(""), [0x00]),
                      cat([0x09], field("a.b"), [0x00]), cat([0x0A], field("a.b"), [0x00]), cat([0x0B], field("a.b"), [0x00]),
                      cat([0x0E], field("a.b"), field("0:1"), [0x00])] {
            let error = binaryError(bytes)
            #expect(error?.code == .badFrame && error?.ref == "a.b", "\(bytes): \(String(describing: error))")
        }
    }

    @Test func binaryJSONEventPayloadMustBeOneJSONValue() throws {
        let head = cat([0x0C], field("a.b"), field("0:1"), field("echo"))
        for payload in ["", "not json", "1 2", "{", "[1,]"] {
            let error = binaryError(head + Array(payload.utf8))
            #expect(error?.code == .badFrame && error?.ref == "a.b", "\(payload)")
        }
        // The same bytes under the binary tag are an opaque payload.
        #expect(try BinaryFrameCodec.decode(cat([0x0D], field("a.b"), field("0:1"), field("echo"), Array("not json".utf8)))
                == .event(TopicEvent(topic: "a.b", position: at(0, 1), from: "echo", payload: .binary(Array("not json".utf8)))))
    }

    @Test func binaryEventAndGapNeedAValidPosition() {
        for pos in ["", "x", "01:2"] {
            let event = binaryError(cat([0x0D], field("a.b"), field(pos), field("echo")))
            #expect(event?.code == .badPosition && event?.ref == "a.b", "event \(pos)")
            let gap = binaryError(cat([0x0E], field("a.b"), field(pos)))
            #expect(gap?.code == .badPosition && gap?.ref == "a.b", "gap \(pos)")
        }
    }

    @Test func tagsAfterTheTopicFramesAreUnknown() {
        for tag: UInt8 in [0x12, 0x7F, 0xFF] {
            #expect(binaryError(cat([tag], field("a.b"), field("0:1")))?.code == .unknownType, "tag \(tag)")
        }
    }

    // MARK: Bad input from devices

    static let badTopics: [(String, String)] = [
        ("201 bytes", String(repeating: "a", count: 201)),
        ("empty", ""),
        ("space", "news sports"),
        ("slash", "news/sports"),
        ("non-ASCII", "nöws"),
        ("control character", "news\u{1}"),
        ("quote", "news\"x"),
        ("brace", "user.{sub}"),
    ]

    @Test(arguments: badTopics)
    func subscribeToABadTopicIsInvalidField(_ name: String, _ topic: String) {
        let json = String(decoding: JSONFrameCodec.encode(.subscribe(topic: topic, position: nil)), as: UTF8.self)
        let fromJSON = jsonError(json)
        #expect(fromJSON?.code == .invalidField, "\(name): \(String(describing: fromJSON))")
        #expect(fromJSON?.message.contains("1 to 200 characters") == true, "\(name)")
        #expect(fromJSON?.ref == nil, "an invalid topic is not echoed")
        #expect(binaryError(BinaryFrameCodec.encode(.subscribe(topic: topic, position: nil))) == fromJSON, "\(name)")

        let unsub = jsonError(String(decoding: JSONFrameCodec.encode(.unsubscribe(topic: topic)), as: UTF8.self))
        #expect(unsub?.code == .invalidField, "\(name)")
        #expect(binaryError(BinaryFrameCodec.encode(.unsubscribe(topic: topic))) == unsub, "\(name)")
    }

    @Test func topicLengthLimitIsInBytes() {
        #expect(TopicRules.isTopicName(String(repeating: "a", count: 200)))
        #expect(!TopicRules.isTopicName(String(repeating: "a", count: 201)))
        #expect(jsonError(#"{"type":"sub","topic":"\#(String(repeating: "a", count: 200))"}"#) == nil)
    }

    @Test func everyTopicCharacterIsAllowed() throws {
        let all = "ABCXYZabcxyz0189.-_:@"
        #expect(TopicRules.isTopicName(all))
        #expect(try JSONFrameCodec.decode(Array(#"{"type":"sub","topic":"\#(all)"}"#.utf8)) == .subscribe(topic: all, position: nil))
        for byte in UInt8(0)...UInt8(255) {
            let allowed = all.utf8.contains(byte) || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
                || (0x61...0x7A).contains(byte)
            #expect(TopicRules.isTopicByte(byte) == allowed, "byte \(byte)")
        }
        // Segments may be empty: `.` is only a separator for patterns.
        #expect(TopicRules.isTopicName(".") && TopicRules.isTopicName("a..b"))
    }

    @Test(arguments: ["news.*", "news.>", "*", ">", "news.*.eu", "a*b", "news>"])
    func wildcardsAreRefusedWithTheirOwnMessage(_ topic: String) {
        for json in [#"{"type":"sub","topic":"\#(topic)"}"#, #"{"type":"unsub","topic":"\#(topic)"}"#,
                     #"{"type":"sub","topic":"\#(topic)","pos":"0:1"}"#] {
            let error = jsonError(json)
            #expect(error?.code == .invalidField, "\(json)")
            #expect(error?.message == "\"topic\" has a wildcard: subscribe to topics by their full names", "\(json)")
            #expect(error?.ref == nil)
        }
        let binary = binaryError(BinaryFrameCodec.encode(.subscribe(topic: topic, position: nil)))
        #expect(binary?.code == .invalidField)
        #expect(binary?.message.contains("wildcard") == true)
    }

    @Test func aWildcardTooLongStillSaysWildcard() {
        let error = jsonError(#"{"type":"sub","topic":"\#(String(repeating: "a", count: 300)).*"}"#)
        #expect(error?.code == .invalidField && error?.message.contains("wildcard") == true)
    }

    static let garbagePositions = ["x", "1", "01:2", "-1:2", "1:99999999999999999999", "1:2:3", "", ":", "1:", ":2",
                                   "+1:2", " 1:2", "1:2 ", "1:-2", "1:02", "2147483648:0", "1:9223372036854775808",
                                   "0x1:2", "1.0:2", "١:٢", "1;2"]

    @Test(arguments: garbagePositions)
    func garbagePositionIsBadPositionNamingTheTopic(_ pos: String) {
        let json = #"{"type":"sub","topic":"news.sports","pos":"\#(pos)"}"#
        let error = jsonError(json)
        #expect(error?.code == .badPosition, "\(json): \(String(describing: error))")
        #expect(error?.ref == "news.sports")
        #expect(error?.retryable == false)
        #expect(TopicPosition(pos) == nil)
    }

    @Test(arguments: garbagePositions.filter { !$0.isEmpty })
    func garbagePositionIsTheSameErrorInBinary(_ pos: String) {
        let json = jsonError(#"{"type":"sub","topic":"news.sports","pos":"\#(pos)"}"#)
        let binary = binaryError(cat([0x08], field("news.sports"), field(pos)))
        #expect(binary != nil && binary == json)
    }

    /// In binary an empty position is how a `sub` says it has none; in JSON the field is left out instead.
    @Test func anEmptyPositionMeansNoneOnlyInBinary() throws {
        #expect(try BinaryFrameCodec.decode(cat([0x08], field("news.sports"), field("")))
                == .subscribe(topic: "news.sports", position: nil))
        #expect(jsonError(#"{"type":"sub","topic":"news.sports","pos":""}"#)?.code == .badPosition)
    }

    @Test func theTopicIsCheckedBeforeThePosition() {
        #expect(jsonError(#"{"type":"sub","topic":"news.*","pos":"garbage"}"#)?.code == .invalidField)
        #expect(binaryError(cat([0x08], field("news.*"), field("garbage")))?.code == .invalidField)
    }

    @Test(arguments: [
        #"{"type":"sub"}"#,
        #"{"type":"sub","topic":7}"#,
        #"{"type":"sub","topic":null}"#,
        #"{"type":"sub","topic":"a","pos":5}"#,
        #"{"type":"sub","topic":"a","pos":null}"#,
        #"{"type":"sub","topic":"a","pos":{"partition":0,"offset":1}}"#,
        #"{"type":"unsub"}"#,
        #"{"type":"subscribed"}"#,
        #"{"type":"unsubscribed","topic":false}"#,
        #"{"type":"gap","topic":"a"}"#,
        #"{"type":"event","topic":"a","pos":"0:1","body":1}"#,
        #"{"type":"event","topic":"a","from":"push","body":1}"#,
        #"{"type":"event","pos":"0:1","from":"push","body":1}"#,
    ])
    func missingOrMistypedFieldsAreBadFrames(_ json: String) {
        #expect(jsonError(json)?.code == .badFrame, "\(json)")
    }

    @Test func anEventNeedsExactlyOnePayload() {
        for json in [#"{"type":"event","topic":"a","pos":"0:1","from":"push"}"#,
                     #"{"type":"event","topic":"a","pos":"0:1","from":"push","body":1,"data":"AA=="}"#,
                     #"{"type":"event","topic":"a","pos":"0:1","from":"push","data":"***"}"#] {
            let error = jsonError(json)
            #expect(error?.code == .badFrame && error?.ref == "a", "\(json)")
        }
    }

    @Test func eventAndGapWithAGarbagePositionAreBadPosition() {
        for json in [#"{"type":"event","topic":"a","pos":"x","from":"push","body":1}"#, #"{"type":"gap","topic":"a","pos":"-1:0"}"#] {
            let error = jsonError(json)
            #expect(error?.code == .badPosition && error?.ref == "a", "\(json)")
        }
    }

    @Test func topicErrorCodesHaveTheirWireNames() throws {
        #expect(ErrorCode.forbiddenTopic.rawValue == "forbidden_topic")
        #expect(ErrorCode.notSubscribed.rawValue == "not_subscribed")
        #expect(ErrorCode.tooManyTopics.rawValue == "too_many_topics")
        #expect(ErrorCode.badPosition.rawValue == "bad_position")
        for code in [ErrorCode.forbiddenTopic, .notSubscribed, .tooManyTopics, .badPosition] {
            #expect(!code.retryable)
            let error = Frame.error(ProtocolError(code, "m", ref: "news.sports"))
            #expect(try JSONFrameCodec.decode(JSONFrameCodec.encode(error)) == error)
            #expect(try BinaryFrameCodec.decode(BinaryFrameCodec.encode(error)) == error)
        }
    }
}

/// The text form and order of positions.
@Suite struct TopicPositionTests {
    @Test(arguments: [("0:0", 0, 0), ("3:41", 3, 41), ("10:100", 10, 100), ("2147483647:9223372036854775807", Int32.max, Int64.max),
                      ("0:1000000000000", 0, 1_000_000_000_000)] as [(String, Int32, Int64)])
    func parses(_ text: String, _ partition: Int32, _ offset: Int64) {
        let parsed = TopicPosition(text)
        #expect(parsed == TopicPosition(partition: partition, offset: offset))
        #expect(parsed?.description == text, "the text form is canonical")
        #expect(TopicPosition(TopicPosition(partition: partition, offset: offset).description) == parsed)
    }

    @Test func descriptionIsPartitionColonOffset() {
        #expect(TopicPosition(partition: 3, offset: 41).description == "3:41")
        #expect("\(TopicPosition(partition: 0, offset: 0))" == "0:0")
    }

    @Test func orderIsByPartitionThenOffset() {
        let sorted = [at(0, 0), at(0, 1), at(0, 9), at(0, 10), at(1, 0), at(2, 5)]
        for (i, a) in sorted.enumerated() {
            for (j, b) in sorted.enumerated() {
                #expect((a < b) == (i < j), "\(a) < \(b)")
                #expect((a == b) == (i == j))
            }
        }
        #expect(sorted.shuffled().sorted() == sorted)
        #expect(at(0, Int64.max) < at(1, 0))
        #expect(max(at(1, 2), at(0, 99)) == at(1, 2))
    }

    @Test func ruleCheckThrowsBadPositionWithTheTopic() throws {
        #expect(throws: ProtocolError(.badPosition, "\"pos\" is not a position this gateway gave out (\"<partition>:<offset>\")",
                                      ref: "t.1")) {
            try TopicRules.position("nope", topic: "t.1")
        }
        #expect(try TopicRules.position("4:5", topic: "t.1") == at(4, 5))
    }
}
