import ChannelProtocol
import NIOCore

/// What operators do to one connection from outside (``HandoffSession``, a `disconnect` notice from the API).
extension DeviceConnection {
    /// Closes this connection with `code` if it is still `session`, after a `reconnect` frame asking the device to
    /// come back after `reconnectAfterMs` when that is set (as a drain does, with the operator's code instead of 4005).
    /// On the connection's event loop. A connection that has meanwhile ended or is another session is left alone.
    func disconnect(session closing: String, code: UInt16, reconnectAfterMs: UInt32?) {
        guard registered?.session == closing, let channel else { return }
        session.markClosed()
        edge.logger.info("closing \(registered?.device ?? "?") with \(code): asked by an operator")
        channel.sendAndClose(reconnectAfterMs.map { .reconnect(delayMs: Int($0)) }, as: encoding, codeNumber: code)
    }
}
