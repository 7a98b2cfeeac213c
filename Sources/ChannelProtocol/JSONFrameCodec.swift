import Foundation

/// Protocol v1's JSON text encoding: one JSON object per WebSocket text message, `type` first.
///
/// Decoding validates the whole frame and every field's range; a message's `body` is kept as the exact bytes the
/// sender wrote (no re-encoding), and encoding writes a JSON payload's bytes back verbatim.
public enum JSONFrameCodec {
    /// The WebSocket subprotocol that selects this encoding.
    public static let subprotocol = "channel.v1.json"

    /// Decodes one frame.
    /// - Throws: a ``ProtocolError`` with code `bad_frame`, `unknown_type` or `invalid_field`, ready to send back.
    public static func decode(_ bytes: [UInt8]) throws(ProtocolError) -> Frame {
        let object: JSONScanner.ObjectMembers
        do {
            object = try JSONScanner.object(bytes)
        } catch {
            throw ProtocolError(.badFrame, "malformed JSON: \(error)")
        }
        do {
            guard let type = try object.string("type") else { throw ProtocolError(.badFrame, "missing \"type\"") }
            let ref = try? object.string("id")
            switch type {
            case "hello":
                let device = try required(object, "device")
                try FieldRules.checkDevice(device)
                return .hello(Hello(device: device, token: try required(object, "token")))
            case "msg":
                let service = try required(object, "service")
                let id = try required(object, "id")
                try FieldRules.checkMessageID(id)
                try FieldRules.checkService(service, ref: id)
                return .msg(Message(service: service, id: id, payload: try payload(object, ref: id)))
            case "ack":
                let id = try required(object, "id")
                try FieldRules.checkMessageID(id)
                return .ack(id: id)
            case "welcome":
                return .welcome(Welcome(
                    edge: try required(object, "edge"), session: try required(object, "session"),
                    heartbeatSeconds: Int(try object.integer("heartbeat") ?? 0),
                    maxMessageBytes: Int(try object.integer("maxMessageBytes") ?? 0),
                    tokenExpiresAt: try object.integer("exp").map { Int($0) }))
            case "error":
                let codeName = try required(object, "code")
                guard let code = ErrorCode(rawValue: codeName) else {
                    throw ProtocolError(.invalidField, "unknown error code \"\(codeName)\"")
                }
                return .error(ProtocolError(code, try object.string("message") ?? "", ref: try object.string("ref")))
            case "reconnect":
                return .reconnect(delayMs: Int(try object.integer("delay") ?? 0))
            case "sub":
                let topic = try required(object, "topic")
                try TopicRules.checkTopic(topic)
                guard let text = try object.string("pos") else { return .subscribe(topic: topic, position: nil) }
                return .subscribe(topic: topic, position: try TopicRules.position(text, topic: topic))
            case "unsub":
                let topic = try required(object, "topic")
                try TopicRules.checkTopic(topic)
                return .unsubscribe(topic: topic)
            case "subscribed":
                return .subscribed(topic: try required(object, "topic"))
            case "unsubscribed":
                return .unsubscribed(topic: try required(object, "topic"))
            case "event":
                let topic = try required(object, "topic")
                return .event(TopicEvent(topic: topic, position: try TopicRules.position(try required(object, "pos"), topic: topic),
                                         from: try required(object, "from"), payload: try payload(object, ref: topic, of: "an event")))
            case "gap":
                let topic = try required(object, "topic")
                return .gap(topic: topic, position: try TopicRules.position(try required(object, "pos"), topic: topic))
            case "refresh":
                return .refresh(token: try required(object, "token"))
            case "refreshed":
                return .refreshed(expiresAt: Int(try requiredInteger(object, "exp")))
            case "refresh_due":
                return .refreshDue(expiresAt: Int(try requiredInteger(object, "exp")))
            default:
                throw ProtocolError(.unknownType, "unknown frame type \"\(type)\"", ref: ref)
            }
        } catch let error as ProtocolError {
            throw error
        } catch {
            throw ProtocolError(.badFrame, "\(error)")
        }
    }

    private static func required(_ object: JSONScanner.ObjectMembers, _ key: String) throws -> String {
        guard let value = try object.string(key) else { throw ProtocolError(.badFrame, "missing \"\(key)\"") }
        return value
    }

    private static func requiredInteger(_ object: JSONScanner.ObjectMembers, _ key: String) throws -> Int64 {
        guard let value = try object.integer(key) else { throw ProtocolError(.badFrame, "missing \"\(key)\"") }
        return value
    }

    private static func payload(_ object: JSONScanner.ObjectMembers, ref: String, of frame: String = "a msg") throws -> Payload {
        let body = object.raw("body")
        let data = try object.string("data")
        switch (body, data) {
        case (let body?, nil):
            return .json(Array(body))
        case (nil, let data?):
            guard let bytes = Data(base64Encoded: data) else {
                throw ProtocolError(.badFrame, "\"data\" is not base64", ref: ref)
            }
            return .binary(Array(bytes))
        case (nil, nil):
            throw ProtocolError(.badFrame, "\(frame) needs \"body\" (JSON) or \"data\" (base64)", ref: ref)
        case (_?, _?):
            throw ProtocolError(.badFrame, "\(frame) has \"body\" or \"data\", not both", ref: ref)
        }
    }

    /// Encodes one frame as UTF-8 JSON text.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var out = JSONWriter()
        out.begin(type: frame.typeName)
        switch frame {
        case .hello(let h):
            out.field("device", h.device)
            out.field("token", h.token)
        case .welcome(let w):
            out.field("edge", w.edge)
            out.field("session", w.session)
            out.field("heartbeat", w.heartbeatSeconds)
            out.field("maxMessageBytes", w.maxMessageBytes)
            if let exp = w.tokenExpiresAt { out.field("exp", exp) }
        case .msg(let m):
            out.field("service", m.service)
            out.field("id", m.id)
            out.payload(m.payload)
        case .ack(let id):
            out.field("id", id)
        case .error(let e):
            out.field("code", e.code.rawValue)
            out.field("message", e.message)
            if let ref = e.ref { out.field("ref", ref) }
            out.field("retryable", e.retryable)
        case .reconnect(let delay):
            out.field("delay", delay)
        case .subscribe(let topic, let position):
            out.field("topic", topic)
            if let position { out.field("pos", position.description) }
        case .unsubscribe(let topic), .subscribed(let topic), .unsubscribed(let topic):
            out.field("topic", topic)
        case .event(let event):
            out.field("topic", event.topic)
            out.field("pos", event.position.description)
            out.field("from", event.from)
            out.payload(event.payload)
        case .gap(let topic, let position):
            out.field("topic", topic)
            out.field("pos", position.description)
        case .refresh(let token):
            out.field("token", token)
        case .refreshed(let exp), .refreshDue(let exp):
            out.field("exp", exp)
        }
        return out.end()
    }
}

/// Writes one flat JSON object; string values are escaped, raw values are written as given.
struct JSONWriter {
    private var bytes: [UInt8] = []

    mutating func begin(type: String) {
        bytes.reserveCapacity(128)
        bytes.append(UInt8(ascii: "{"))
        key("type")
        string(type)
    }

    mutating func field(_ name: String, _ value: String) {
        bytes.append(UInt8(ascii: ","))
        key(name)
        string(value)
    }

    mutating func field(_ name: String, _ value: Int) {
        rawField(name, Array(String(value).utf8))
    }

    mutating func field(_ name: String, _ value: Bool) {
        rawField(name, Array((value ? "true" : "false").utf8))
    }

    mutating func rawField(_ name: String, _ raw: [UInt8]) {
        bytes.append(UInt8(ascii: ","))
        key(name)
        bytes.append(contentsOf: raw)
    }

    /// `body` (raw JSON) or `data` (base64).
    mutating func payload(_ payload: Payload) {
        switch payload {
        case .json(let bytes): rawField("body", bytes)
        case .binary(let bytes): field("data", Data(bytes).base64EncodedString())
        }
    }

    mutating func end() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
