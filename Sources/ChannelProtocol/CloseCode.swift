/// The WebSocket close codes the edge uses, part of the protocol (docs/protocol.md).
///
/// Codes 4000–4999 are reserved by RFC 6455 for applications. A device that sees `.unavailable`, `.draining` or
/// `.goingAway` reconnects with backoff; after `.authFailed` it needs a new token; after `.replaced` it must not
/// reconnect on its own (another connection of the same device took over).
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
}
