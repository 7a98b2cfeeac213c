/// Protocol v1's compact binary encoding: one frame per WebSocket binary message.
///
/// A frame is a tag byte followed by its fields: strings as a varint byte length and that many bytes of UTF-8,
/// integers as unsigned LEB128 varints of at most 5 bytes (0…2^32−1). A `msg` ends with its payload, which is all the
/// bytes after the id, so it travels to and from Kafka as a slice of the frame, never re-encoded. The layout is
/// specified in docs/protocol.md, section "Binary encoding".
///
/// Guarantees:
/// - `decode` validates the whole frame (tag, every length, varint and flag, UTF-8 of every string, no bytes after
///   the last field of a frame other than `msg`) and every field's rule in ``FieldRules``, in the same order and with
///   the same error codes as ``JSONFrameCodec``. It never traps on any input, runs in time linear in the input, uses
///   no Foundation, and allocates only the frame's strings and payload.
/// - A `msg` with tag 0x03 (``Payload/json(_:)``) decodes only when its payload is one JSON value (whitespace around
///   it allowed), nested at most `JSONScanner.defaultMaxDepth - 1` levels: the limit of a `body` in the JSON
///   encoding, so a frame valid in one encoding is valid in the other.
/// - The encoding is canonical: a frame has exactly one encoding, so `encode(decode(bytes)) == bytes` whenever
///   `decode` succeeds, and `decode(encode(frame)) == frame` for every frame that obeys the field rules, has a JSON
///   payload `decode` accepts and integers in 0…2^32−1.
public enum BinaryFrameCodec {
    /// The WebSocket subprotocol that selects this encoding.
    public static let subprotocol = "channel.v1.bin"

    /// The first byte of a frame: which frame it is.
    enum Tag {
        static let hello: UInt8 = 0x01
        static let welcome: UInt8 = 0x02
        static let jsonMessage: UInt8 = 0x03
        static let binaryMessage: UInt8 = 0x04
        static let ack: UInt8 = 0x05
        static let error: UInt8 = 0x06
        static let reconnect: UInt8 = 0x07
        static let subscribe: UInt8 = 0x08
        static let unsubscribe: UInt8 = 0x09
        static let subscribed: UInt8 = 0x0A
        static let unsubscribed: UInt8 = 0x0B
        static let jsonEvent: UInt8 = 0x0C
        static let binaryEvent: UInt8 = 0x0D
        static let gap: UInt8 = 0x0E
        static let refresh: UInt8 = 0x0F
        static let refreshed: UInt8 = 0x10
        static let refreshDue: UInt8 = 0x11
    }

    /// Bit 0 of an error frame's flags byte: a `ref` string follows. The other bits must be 0.
    static let errorHasRef: UInt8 = 0x01

    /// How deep a JSON payload may nest: as deep as a `body` inside a JSON frame, so every frame that decodes in one
    /// encoding also decodes in the other.
    static let maxPayloadDepth = JSONScanner.defaultMaxDepth - 1

    /// Decodes one frame from the bytes of one WebSocket binary message.
    /// - Throws: a ``ProtocolError`` with code `bad_frame`, `unknown_type`, `invalid_field` or `unknown_service`,
    ///   ready to send back; `ref` is set when the error concerns a msg or ack whose id was read and is valid.
    public static func decode(_ bytes: [UInt8]) throws(ProtocolError) -> Frame {
        guard let tag = bytes.first else { throw ProtocolError(.badFrame, "empty message") }
        var reader = BinaryReader(bytes, from: 1)
        switch tag {
        case Tag.hello:
            let device = try reader.string("device")
            try FieldRules.checkDevice(device)
            let token = try reader.string("token")
            try reader.end("hello")
            return .hello(Hello(device: device, token: token))
        case Tag.jsonMessage, Tag.binaryMessage:
            let service = try reader.string("service")
            let id = try reader.string("id")
            try FieldRules.checkMessageID(id)
            try FieldRules.checkService(service, ref: id)
            let payload = reader.rest()
            guard tag == Tag.jsonMessage else {
                return .msg(Message(service: service, id: id, payload: .binary(payload)))
            }
            guard JSONScanner.isValidValue(payload, maxDepth: maxPayloadDepth) else {
                throw ProtocolError(.badFrame, "the payload of a JSON msg (tag 0x03) is not one JSON value", ref: id)
            }
            return .msg(Message(service: service, id: id, payload: .json(payload)))
        case Tag.ack:
            let id = try reader.string("id")
            try FieldRules.checkMessageID(id)
            try reader.end("ack", ref: id)
            return .ack(id: id)
        case Tag.welcome:
            let edge = try reader.string("edge")
            let session = try reader.string("session")
            let heartbeat = try reader.varint("heartbeat")
            let maxMessageBytes = try reader.varint("maxMessageBytes")
            // The token's expiry came later to the layout: a trailing varint, absent from edges that do not say.
            let expires = reader.atEnd ? nil : try reader.varint("exp")
            try reader.end("welcome")
            return .welcome(Welcome(edge: edge, session: session, heartbeatSeconds: Int(clamping: heartbeat),
                                    maxMessageBytes: Int(clamping: maxMessageBytes),
                                    tokenExpiresAt: expires.map { Int(clamping: $0) }))
        case Tag.error:
            let codeName = try reader.string("code")
            guard let code = ErrorCode(rawValue: codeName) else {
                throw ProtocolError(.invalidField, "unknown error code \"\(codeName.prefix(64))\"")
            }
            let message = try reader.string("message")
            let flags = try reader.byte("flags")
            guard flags & ~errorHasRef == 0 else {
                throw ProtocolError(.badFrame, "error flags 0x\(String(flags, radix: 16)): only bit 0 (a ref follows) may be set")
            }
            let ref = flags & errorHasRef != 0 ? try reader.string("ref") : nil
            try reader.end("error")
            return .error(ProtocolError(code, message, ref: ref))
        case Tag.reconnect:
            let delay = try reader.varint("delay")
            try reader.end("reconnect")
            return .reconnect(delayMs: Int(clamping: delay))
        case Tag.subscribe:
            let topic = try reader.string("topic")
            try TopicRules.checkTopic(topic)
            let text = try reader.string("pos")
            try reader.end("sub", ref: topic)
            return .subscribe(topic: topic, position: text.isEmpty ? nil : try TopicRules.position(text, topic: topic))
        case Tag.unsubscribe, Tag.subscribed, Tag.unsubscribed:
            let topic = try reader.string("topic")
            if tag == Tag.unsubscribe { try TopicRules.checkTopic(topic) }
            try reader.end(tag == Tag.unsubscribe ? "unsub" : tag == Tag.subscribed ? "subscribed" : "unsubscribed", ref: topic)
            switch tag {
            case Tag.unsubscribe: return .unsubscribe(topic: topic)
            case Tag.subscribed: return .subscribed(topic: topic)
            default: return .unsubscribed(topic: topic)
            }
        case Tag.jsonEvent, Tag.binaryEvent:
            let topic = try reader.string("topic")
            let position = try TopicRules.position(try reader.string("pos"), topic: topic)
            let from = try reader.string("from")
            let payload = reader.rest()
            guard tag == Tag.jsonEvent else {
                return .event(TopicEvent(topic: topic, position: position, from: from, payload: .binary(payload)))
            }
            guard JSONScanner.isValidValue(payload, maxDepth: maxPayloadDepth) else {
                throw ProtocolError(.badFrame, "the payload of a JSON event (tag 0x0c) is not one JSON value", ref: topic)
            }
            return .event(TopicEvent(topic: topic, position: position, from: from, payload: .json(payload)))
        case Tag.gap:
            let topic = try reader.string("topic")
            let position = try TopicRules.position(try reader.string("pos"), topic: topic)
            try reader.end("gap", ref: topic)
            return .gap(topic: topic, position: position)
        case Tag.refresh:
            let token = try reader.string("token")
            try reader.end("refresh")
            return .refresh(token: token)
        case Tag.refreshed, Tag.refreshDue:
            let expires = try reader.varint("exp")
            try reader.end(tag == Tag.refreshed ? "refreshed" : "refresh_due")
            return tag == Tag.refreshed ? .refreshed(expiresAt: Int(clamping: expires)) : .refreshDue(expiresAt: Int(clamping: expires))
        default:
            throw ProtocolError(.unknownType, "unknown frame tag 0x\(String(tag, radix: 16))")
        }
    }

    /// Encodes one frame in the binary layout, with a single allocation of the frame's exact size.
    ///
    /// Strings and payloads are written as they are, without checking the field rules (like ``JSONFrameCodec``).
    /// Integers outside 0…2^32−1, which no decoded binary frame has, are clamped to that range.
    /// - Precondition: every string of the frame is shorter than 4 GiB.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedSize(frame))
        switch frame {
        case .hello(let h):
            out.append(Tag.hello)
            appendString(h.device, to: &out)
            appendString(h.token, to: &out)
        case .welcome(let w):
            out.append(Tag.welcome)
            appendString(w.edge, to: &out)
            appendString(w.session, to: &out)
            appendVarint(UInt32(clamping: w.heartbeatSeconds), to: &out)
            appendVarint(UInt32(clamping: w.maxMessageBytes), to: &out)
            if let exp = w.tokenExpiresAt { appendVarint(UInt32(clamping: exp), to: &out) }
        case .msg(let m):
            switch m.payload {
            case .json: out.append(Tag.jsonMessage)
            case .binary: out.append(Tag.binaryMessage)
            }
            appendString(m.service, to: &out)
            appendString(m.id, to: &out)
            out.append(contentsOf: m.payload.bytes)
        case .ack(let id):
            out.append(Tag.ack)
            appendString(id, to: &out)
        case .error(let e):
            out.append(Tag.error)
            appendString(e.code.rawValue, to: &out)
            appendString(e.message, to: &out)
            if let ref = e.ref {
                out.append(errorHasRef)
                appendString(ref, to: &out)
            } else {
                out.append(0)
            }
        case .reconnect(let delay):
            out.append(Tag.reconnect)
            appendVarint(UInt32(clamping: delay), to: &out)
        case .subscribe(let topic, let position):
            out.append(Tag.subscribe)
            appendString(topic, to: &out)
            appendString(position?.description ?? "", to: &out)
        case .unsubscribe(let topic):
            out.append(Tag.unsubscribe)
            appendString(topic, to: &out)
        case .subscribed(let topic):
            out.append(Tag.subscribed)
            appendString(topic, to: &out)
        case .unsubscribed(let topic):
            out.append(Tag.unsubscribed)
            appendString(topic, to: &out)
        case .event(let event):
            switch event.payload {
            case .json: out.append(Tag.jsonEvent)
            case .binary: out.append(Tag.binaryEvent)
            }
            appendString(event.topic, to: &out)
            appendString(event.position.description, to: &out)
            appendString(event.from, to: &out)
            out.append(contentsOf: event.payload.bytes)
        case .gap(let topic, let position):
            out.append(Tag.gap)
            appendString(topic, to: &out)
            appendString(position.description, to: &out)
        case .refresh(let token):
            out.append(Tag.refresh)
            appendString(token, to: &out)
        case .refreshed(let exp):
            out.append(Tag.refreshed)
            appendVarint(UInt32(clamping: exp), to: &out)
        case .refreshDue(let exp):
            out.append(Tag.refreshDue)
            appendVarint(UInt32(clamping: exp), to: &out)
        }
        return out
    }

    /// The number of bytes `encode(frame)` writes.
    static func encodedSize(_ frame: Frame) -> Int {
        switch frame {
        case .hello(let h):
            return 1 + stringSize(h.device) + stringSize(h.token)
        case .welcome(let w):
            return 1 + stringSize(w.edge) + stringSize(w.session)
                + varintSize(UInt32(clamping: w.heartbeatSeconds)) + varintSize(UInt32(clamping: w.maxMessageBytes))
                + (w.tokenExpiresAt.map { varintSize(UInt32(clamping: $0)) } ?? 0)
        case .msg(let m):
            return 1 + stringSize(m.service) + stringSize(m.id) + m.payload.bytes.count
        case .ack(let id):
            return 1 + stringSize(id)
        case .error(let e):
            return 1 + stringSize(e.code.rawValue) + stringSize(e.message) + 1 + (e.ref.map(stringSize) ?? 0)
        case .reconnect(let delay):
            return 1 + varintSize(UInt32(clamping: delay))
        case .subscribe(let topic, let position):
            return 1 + stringSize(topic) + stringSize(position?.description ?? "")
        case .unsubscribe(let topic), .subscribed(let topic), .unsubscribed(let topic):
            return 1 + stringSize(topic)
        case .event(let event):
            return 1 + stringSize(event.topic) + stringSize(event.position.description) + stringSize(event.from)
                + event.payload.bytes.count
        case .gap(let topic, let position):
            return 1 + stringSize(topic) + stringSize(position.description)
        case .refresh(let token):
            return 1 + stringSize(token)
        case .refreshed(let exp), .refreshDue(let exp):
            return 1 + varintSize(UInt32(clamping: exp))
        }
    }

    // MARK: - Writing

    static func appendVarint(_ value: UInt32, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    static func varintSize(_ value: UInt32) -> Int {
        switch value {
        case ..<(1 << 7): return 1
        case ..<(1 << 14): return 2
        case ..<(1 << 21): return 3
        case ..<(1 << 28): return 4
        default: return 5
        }
    }

    static func appendString(_ string: String, to out: inout [UInt8]) {
        let utf8 = string.utf8
        appendVarint(UInt32(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    static func stringSize(_ string: String) -> Int {
        let count = string.utf8.count
        return varintSize(UInt32(clamping: count)) + count
    }
}

/// Reads the fields of one binary frame in order, checking every read against the end of the frame.
///
/// Field names are `StaticString`s so that nothing is formatted unless a read fails.
struct BinaryReader {
    private let bytes: [UInt8]
    private(set) var index: Int

    init(_ bytes: [UInt8], from index: Int) {
        self.bytes = bytes
        self.index = index
    }

    /// One byte.
    mutating func byte(_ field: StaticString) throws(ProtocolError) -> UInt8 {
        guard index < bytes.count else { throw ProtocolError(.badFrame, "missing \"\(field)\" at byte \(index)") }
        defer { index += 1 }
        return bytes[index]
    }

    /// An unsigned LEB128 varint of at most 5 bytes, in its shortest form, below 2^32.
    mutating func varint(_ field: StaticString) throws(ProtocolError) -> UInt32 {
        let start = index
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte < 0x80 {
                // A last byte of 0 after others adds nothing: a shorter form exists.
                guard byte != 0 || shift == 0 else {
                    throw ProtocolError(.badFrame, "overlong varint for \"\(field)\" at byte \(start)")
                }
                // The fifth byte carries bits 28…31 only.
                guard shift < 28 || byte <= 0x0F else {
                    throw ProtocolError(.badFrame, "varint for \"\(field)\" at byte \(start) exceeds 2^32-1")
                }
                return value | UInt32(byte) << shift
            }
            guard shift < 28 else {
                throw ProtocolError(.badFrame, "varint for \"\(field)\" at byte \(start) is longer than 5 bytes")
            }
            value |= UInt32(byte & 0x7F) << shift
            shift += 7
        }
        throw ProtocolError(.badFrame, index == start ? "missing \"\(field)\" at byte \(start)"
                                                      : "truncated varint for \"\(field)\" at byte \(start)")
    }

    /// A varint byte length, then that many bytes of valid UTF-8.
    mutating func string(_ field: StaticString) throws(ProtocolError) -> String {
        let length = Int(try varint(field))
        guard length <= bytes.count - index else {
            throw ProtocolError(.badFrame, "\"\(field)\" has \(length) bytes but the frame has \(bytes.count - index) left")
        }
        if length == 0 { return "" }
        let end = index + length
        guard let string = validatedUTF8(bytes[index..<end]) else {
            throw ProtocolError(.badFrame, "\"\(field)\" is not valid UTF-8")
        }
        index = end
        return string
    }

    /// All bytes from the current position to the end of the frame.
    mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return Array(bytes[index...])
    }

    /// Whether every byte of the frame has been read.
    var atEnd: Bool { index == bytes.count }

    /// Checks that the frame ends here.
    func end(_ frame: StaticString, ref: String? = nil) throws(ProtocolError) {
        guard index == bytes.count else {
            throw ProtocolError(.badFrame, "\(bytes.count - index) unexpected bytes after the \(frame) frame", ref: ref)
        }
    }
}

/// The string of `bytes` if they are well-formed UTF-8, else nil.
func validatedUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
    bytes.withUnsafeBufferPointer { buffer in
        isWellFormedUTF8(buffer) ? String(decoding: buffer, as: UTF8.self) : nil
    }
}

/// Whether `bytes` are well-formed UTF-8 (RFC 3629: shortest forms only, no surrogates, nothing past U+10FFFF).
///
/// The standard library's `String(validating:as:)` does the same but is slower on short strings and needs macOS 15;
/// `String(decoding:as:)` would silently repair. ASCII is checked eight bytes at a time.
func isWellFormedUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    let count = bytes.count
    var i = 0
    while i < count {
        if i + 8 <= count {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if word & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
        }
        let lead = base[i]
        if lead < 0x80 {
            i += 1
            continue
        }
        // The k-th byte after the lead exists and lies in `range` (0x80…0xBF unless the lead narrows it).
        func follows(_ k: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            i + k < count && range.contains(base[i + k])
        }
        let length: Int
        switch lead {
        case 0xC2...0xDF where follows(1): length = 2
        case 0xE0 where follows(1, 0xA0...0xBF) && follows(2): length = 3
        case 0xE1...0xEC where follows(1) && follows(2): length = 3
        case 0xED where follows(1, 0x80...0x9F) && follows(2): length = 3
        case 0xEE...0xEF where follows(1) && follows(2): length = 3
        case 0xF0 where follows(1, 0x90...0xBF) && follows(2) && follows(3): length = 4
        case 0xF1...0xF3 where follows(1) && follows(2) && follows(3): length = 4
        case 0xF4 where follows(1, 0x80...0x8F) && follows(2) && follows(3): length = 4
        default: return false
        }
        i += length
    }
    return true
}
