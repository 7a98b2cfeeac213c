/// The encodings of protocol v1 a connection can speak, chosen by WebSocket subprotocol.
///
/// Both carry the same ``Frame``s with the same field rules and error codes; a connection uses exactly one of them
/// from its upgrade to its close.
public enum FrameEncoding: Sendable, Equatable, CaseIterable {
    /// JSON text, one object per WebSocket text message (``JSONFrameCodec``, `channel.v1.json`).
    case json
    /// The compact binary layout, one frame per WebSocket binary message (``BinaryFrameCodec``, `channel.v1.bin`).
    case binary

    /// The WebSocket subprotocol that selects this encoding: `channel.v1.json` or `channel.v1.bin`.
    public var subprotocol: String {
        switch self {
        case .json: return JSONFrameCodec.subprotocol
        case .binary: return BinaryFrameCodec.subprotocol
        }
    }

    /// Whether frames travel as WebSocket binary messages (true for `.binary`) rather than text messages. A message
    /// of the other kind is not a frame of this encoding and gets `bad_frame`.
    public var usesBinaryMessages: Bool { self == .binary }

    /// The encoding a subprotocol names, compared exactly (subprotocol tokens are case-sensitive); nil for any other.
    public init?(subprotocol: String) {
        switch subprotocol {
        case JSONFrameCodec.subprotocol: self = .json
        case BinaryFrameCodec.subprotocol: self = .binary
        default: return nil
        }
    }

    /// The encoding the edge answers for a client's offered subprotocols, in the client's order of preference:
    /// the first offered one it speaks; `.json` when none is offered at all; nil when only unknown ones are offered.
    /// - Parameter offered: the subprotocols of the request's `Sec-WebSocket-Protocol` headers, split at commas and
    ///   trimmed, in the order they appear.
    public static func negotiate(offered: [String]) -> FrameEncoding? {
        if offered.isEmpty { return .json }
        for name in offered {
            if let encoding = FrameEncoding(subprotocol: name) { return encoding }
        }
        return nil
    }

    /// Decodes one frame from the bytes of one WebSocket message of this encoding.
    /// - Throws: the ``ProtocolError`` of ``JSONFrameCodec/decode(_:)`` or ``BinaryFrameCodec/decode(_:)``.
    public func decode(_ bytes: [UInt8]) throws(ProtocolError) -> Frame {
        switch self {
        case .json: return try JSONFrameCodec.decode(bytes)
        case .binary: return try BinaryFrameCodec.decode(bytes)
        }
    }

    /// Encodes one frame as the bytes of one WebSocket message of this encoding.
    public func encode(_ frame: Frame) -> [UInt8] {
        switch self {
        case .json: return JSONFrameCodec.encode(frame)
        case .binary: return BinaryFrameCodec.encode(frame)
        }
    }
}
