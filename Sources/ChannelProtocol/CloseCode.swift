/// The WebSocket close codes the edge uses, part of the protocol (docs/protocol.md).
///
/// Codes 4000–4999 are reserved by RFC 6455 for applications. A device that sees `.unavailable`, `.draining`,
/// `.disconnected` or `.goingAway` reconnects with backoff (or after the delay of a preceding `reconnect` frame); after
/// `.authFailed`, `.tokenExpired` or `.revoked` it needs a new token; after `.replaced` it must not reconnect on its own
/// (another connection of the same device took over).
public enum CloseCode: UInt16, Sendable, CaseIterable {
    /// Normal closure by either side.
    case normal = 1000
    /// The edge is shutting down.
    case goingAway = 1001
    /// The WebSocket framing itself was broken (RFC 6455 protocol error).
    case protocolError = 1002
    /// A text frame with invalid UTF-8.
    case invalidData = 1007
    /// A message larger than the edge accepts.
    case tooBig = 1009
    /// The edge failed unexpectedly.
    case internalError = 1011
    /// Missing, malformed, badly signed, expired or mismatched token.
    case authFailed = 4001
    /// The device broke protocol v1 (a frame before hello, a second hello).
    case protocolViolation = 4002
    /// The device sent faster than its limit.
    case tooFast = 4003
    /// A newer connection of the same device took over.
    case replaced = 4004
    /// The edge is draining: reconnect (to another edge) after the delay of the preceding `reconnect` frame.
    case draining = 4005
    /// No hello arrived in time.
    case helloTimeout = 4006
    /// The gateway could not register the device (registry unreachable): reconnect with backoff.
    case unavailable = 4007
    /// The token expired and no `refresh` replaced it within the grace: get a new token, then reconnect.
    case tokenExpired = 4008
    /// An operator revoked the token (its device, its key, or tokens issued before a time): get a new token; a hello
    /// with the revoked one is refused (4001).
    case revoked = 4009
    /// An operator closed the connection (the gateway's API, `POST /v1/devices/{device}/disconnect`); a `reconnect`
    /// frame precedes it when the operator asked for a delay. Reconnect after that delay, or else with backoff.
    case disconnected = 4010

    /// Whether `code` is one an operator may close a device's connection with: 1000, 1001, or one of the
    /// application codes 4000–4999. The others are RFC 6455's own (framing, data, size, server errors) or reserved.
    public static func isOperatorChoosable(_ code: UInt16) -> Bool {
        code == normal.rawValue || code == goingAway.rawValue || (4000...4999).contains(code)
    }
}
