import NIOCore

/// The hand-off wire format (docs/handoff.md): each frame is a 4-byte big-endian length, then that many bytes: a type
/// byte and the frame's fields. Strings are a 2-byte length and UTF-8; a payload is a 4-byte length and raw bytes;
/// numbers are big-endian.
///
/// Guarantees: decoding never traps on any input. A frame whose length is 0 or over `maxFrameBytes`, an unknown type,
/// fields that run past the frame or bytes left over after them are a ``HandoffError``; an incomplete frame is
/// nil (wait for more bytes).
public enum HandoffCodec {
    /// The largest frame accepted by default; senders split notices into frames far smaller (``maxBatchBytes``).
    public static let defaultMaxFrameBytes = 16 << 20
    /// Senders start a new frame once one holds about this many bytes.
    public static let maxBatchBytes = 1 << 20

    enum Kind: UInt8 {
        case hello = 1, welcome, notices, ack, error, drain, closed
    }

    enum NoticeKind: UInt8 {
        case message = 1, close, disconnect
    }

    /// The reconnect delay of a `disconnect` notice that asks for no `reconnect` frame.
    static let noReconnect = UInt32.max

    /// Appends `frame` to `buffer`.
    public static func encode(_ frame: HandoffFrame, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        switch frame {
        case .hello(let version, let edge, let sender, let secret):
            buffer.writeInteger(Kind.hello.rawValue)
            buffer.writeInteger(version)
            writeString(edge, into: &buffer)
            writeString(sender, into: &buffer)
            writeString(secret, into: &buffer)
        case .welcome(let edge, let instance):
            buffer.writeInteger(Kind.welcome.rawValue)
            writeString(edge, into: &buffer)
            writeString(instance, into: &buffer)
        case .notices(let batch, let notices):
            buffer.writeInteger(Kind.notices.rawValue)
            buffer.writeInteger(batch)
            buffer.writeInteger(UInt32(notices.count))
            for notice in notices { encode(notice, into: &buffer) }
        case .ack(let batch):
            buffer.writeInteger(Kind.ack.rawValue)
            buffer.writeInteger(batch)
        case .error(let message):
            buffer.writeInteger(Kind.error.rawValue)
            writeString(message, into: &buffer)
        case .drain(let batch):
            buffer.writeInteger(Kind.drain.rawValue)
            buffer.writeInteger(batch)
        case .closed(let batch, let sessions):
            buffer.writeInteger(Kind.closed.rawValue)
            buffer.writeInteger(batch)
            buffer.writeInteger(UInt32(sessions.count))
            for session in sessions { writeString(session, into: &buffer) }
        }
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4), at: start)
    }

    /// The bytes `notice` takes in a frame, to split batches by size.
    public static func size(of notice: HandoffNotice) -> Int {
        switch notice {
        case .message(let device, let session, let entry):
            return 1 + 2 + device.utf8.count + 2 + session.utf8.count + 8 + 2 + entry.id.utf8.count
                + 2 + entry.service.utf8.count + 2 + entry.contentType.utf8.count + 8 + 4 + entry.payload.count
        case .close(let device, let session):
            return 1 + 2 + device.utf8.count + 2 + session.utf8.count
        case .disconnect(let device, let session, _, _):
            return 1 + 2 + device.utf8.count + 2 + session.utf8.count + 2 + 4
        }
    }

    private static func encode(_ notice: HandoffNotice, into buffer: inout ByteBuffer) {
        switch notice {
        case .message(let device, let session, let entry):
            buffer.writeInteger(NoticeKind.message.rawValue)
            writeString(device, into: &buffer)
            writeString(session, into: &buffer)
            buffer.writeInteger(entry.seq)
            writeString(entry.id, into: &buffer)
            writeString(entry.service, into: &buffer)
            writeString(entry.contentType, into: &buffer)
            buffer.writeInteger(entry.expiresAtMs)
            buffer.writeInteger(UInt32(entry.payload.count))
            buffer.writeBytes(entry.payload)
        case .close(let device, let session):
            buffer.writeInteger(NoticeKind.close.rawValue)
            writeString(device, into: &buffer)
            writeString(session, into: &buffer)
        case .disconnect(let device, let session, let code, let reconnectAfterMs):
            buffer.writeInteger(NoticeKind.disconnect.rawValue)
            writeString(device, into: &buffer)
            writeString(session, into: &buffer)
            buffer.writeInteger(code)
            // A delay of UInt32.max could not be told from none: it is written one less (49 days either way).
            buffer.writeInteger(reconnectAfterMs.map { min($0, noReconnect - 1) } ?? noReconnect)
        }
    }

    /// Strings longer than 65,535 bytes are cut there: no field of the contract comes near it.
    private static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        let bytes = string.utf8.prefix(Int(UInt16.max))
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
    }

    /// Takes one whole frame off the front of `buffer`; nil (and nothing taken) while it is incomplete.
    /// - Throws: ``HandoffError`` for a frame that breaks the format; the connection must then be closed.
    public static func decode(_ buffer: inout ByteBuffer, maxFrameBytes: Int = defaultMaxFrameBytes) throws(HandoffError) -> HandoffFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw .malformed("empty frame") }
        guard Int(length) <= maxFrameBytes else { throw .tooBig("frame of \(length) bytes, over the limit of \(maxFrameBytes)") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        var body = buffer.readSlice(length: Int(length))!
        let frame = try decodeBody(&body)
        guard body.readableBytes == 0 else { throw .malformed("\(body.readableBytes) bytes left after the frame's fields") }
        return frame
    }

    private static func decodeBody(_ body: inout ByteBuffer) throws(HandoffError) -> HandoffFrame {
        let type = try integer(&body, UInt8.self, "type")
        switch Kind(rawValue: type) {
        case .hello:
            return .hello(version: try integer(&body, UInt8.self, "version"), edge: try string(&body, "edge"),
                          sender: try string(&body, "sender"), secret: try string(&body, "secret"))
        case .welcome:
            return .welcome(edge: try string(&body, "edge"), instance: try string(&body, "instance"))
        case .notices:
            let batch = try integer(&body, UInt64.self, "batch")
            let count = try integer(&body, UInt32.self, "count")
            // Each notice takes at least 5 bytes: a count that cannot fit is refused before anything is reserved.
            guard Int(count) <= body.readableBytes / 5 else { throw .malformed("\(count) notices cannot fit in the frame") }
            var notices: [HandoffNotice] = []
            notices.reserveCapacity(Int(count))
            for _ in 0..<count { notices.append(try notice(&body)) }
            return .notices(batch: batch, notices)
        case .ack:
            return .ack(batch: try integer(&body, UInt64.self, "batch"))
        case .error:
            return .error(try string(&body, "message"))
        case .drain:
            return .drain(batch: try integer(&body, UInt64.self, "batch"))
        case .closed:
            let batch = try integer(&body, UInt64.self, "batch")
            let count = try integer(&body, UInt32.self, "count")
            // Each session takes at least its 2-byte length.
            guard Int(count) <= body.readableBytes / 2 else { throw .malformed("\(count) sessions cannot fit in the frame") }
            var sessions: [String] = []
            for _ in 0..<count { sessions.append(try string(&body, "session")) }
            return .closed(batch: batch, sessions: sessions)
        case nil:
            throw .malformed("unknown frame type \(type)")
        }
    }

    private static func notice(_ body: inout ByteBuffer) throws(HandoffError) -> HandoffNotice {
        let kind = try integer(&body, UInt8.self, "notice kind")
        switch NoticeKind(rawValue: kind) {
        case .message:
            let device = try string(&body, "device"), session = try string(&body, "session")
            let seq = try integer(&body, Int64.self, "seq")
            let id = try string(&body, "id"), service = try string(&body, "service")
            let contentType = try string(&body, "content type")
            let expires = try integer(&body, Int64.self, "expiry")
            let length = try integer(&body, UInt32.self, "payload length")
            guard let payload = body.readBytes(length: Int(length)) else { throw .malformed("payload runs past the frame") }
            return .message(device: device, session: session, entry: MailboxEntry(
                seq: seq, id: id, service: service, contentType: contentType, expiresAtMs: expires, payload: payload))
        case .close:
            return .close(device: try string(&body, "device"), session: try string(&body, "session"))
        case .disconnect:
            let device = try string(&body, "device"), session = try string(&body, "session")
            let code = try integer(&body, UInt16.self, "close code")
            let delay = try integer(&body, UInt32.self, "reconnect delay")
            return .disconnect(device: device, session: session, code: code,
                               reconnectAfterMs: delay == noReconnect ? nil : delay)
        case nil:
            throw .malformed("unknown notice kind \(kind)")
        }
    }

    private static func integer<T: FixedWidthInteger>(_ body: inout ByteBuffer, _: T.Type, _ field: String) throws(HandoffError) -> T {
        guard let value = body.readInteger(as: T.self) else { throw .malformed("\(field) runs past the frame") }
        return value
    }

    private static func string(_ body: inout ByteBuffer, _ field: String) throws(HandoffError) -> String {
        let length = try integer(&body, UInt16.self, field)
        guard let string = body.readString(length: Int(length)) else { throw .malformed("\(field) runs past the frame") }
        return string
    }
}

/// A hand-off frame that breaks the format; the receiver answers with an error frame and closes the connection.
public enum HandoffError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case tooBig(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed hand-off frame: \(why)"
        case .tooBig(let why): "hand-off frame too big: \(why)"
        }
    }
}
