import ChannelProtocol
import Foundation
import Infrastructure
import NIOCore
import NIOPosix

/// How a disconnect ended.
public enum DisconnectOutcome: Sendable, Equatable {
    /// The device's connection `session` on `edge` is being closed with the code asked for.
    case disconnected(edge: String, session: String)
    /// The device has no live route (never connected, gone, or its edge is dead): nothing was closed.
    case offline
}

/// Operators' control of devices and edges from outside (the API's disconnect and drain), over the edges' hand-off
/// listeners (docs/handoff.md, "Operators' controls"), each request on a connection of its own (``HandoffExchange``).
///
/// Guarantees:
/// - A disconnect closes only the connection the device's route names, by its session, never a newer connection of
///   the device; the answer names the edge and session the edge said it closed. If the edge no longer holds that
///   session (the device went or reconnected meanwhile), the route is read again, up to 3 times in all.
/// - A drain starts on the edge exactly what SIGTERM starts there; the answer comes once it has started.
/// - Every answer comes within `timeout` per request, or the call throws ``HandoffExchangeError``.
public struct EdgeControl: Sendable {
    /// The reconnect delays an operator may ask for, in ms (up to an hour).
    public static let reconnectDelays = 0...3_600_000

    private let registry: DeviceRegistry
    private let sender: String
    private let secret: String
    private let group: any EventLoopGroup
    private let timeout: Duration

    /// - Parameters:
    ///   - secret: the installation's hand-off secret (`--handoff-secret`), "" when it has none.
    ///   - sender: named in the hello, for the edges' logs.
    ///   - timeout: for each request to an edge, from connecting to its answer.
    public init(redis: any RedisKeyspace, keys: RedisKeys, secret: String, sender: String = "api-\(ProcessInfo.processInfo.processIdentifier)",
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: Duration = .seconds(5)) {
        registry = DeviceRegistry(redis: redis, prefix: keys.prefix)
        self.sender = sender
        self.secret = secret
        self.group = group
        self.timeout = timeout
    }

    /// Closes the device's connection with `code`, after a `reconnect` frame asking it to come back after
    /// `reconnectAfterMs` when that is given.
    /// - Throws: ``EdgeControlError`` for a code an operator may not use or a delay out of range (nothing is sent);
    ///   ``HandoffExchangeError`` when the device's edge does not answer; Redis errors.
    public func disconnect(device: String, code: UInt16 = CloseCode.disconnected.rawValue,
                           reconnectAfterMs: Int? = nil) async throws -> DisconnectOutcome {
        guard CloseCode.isOperatorChoosable(code) else { throw EdgeControlError.closeCodeNotAllowed(code) }
        if let delay = reconnectAfterMs, !Self.reconnectDelays.contains(delay) {
            throw EdgeControlError.reconnectDelayOutOfRange(delay)
        }
        var tried: DeviceRoute?
        for _ in 0..<3 {
            guard case .online(let route) = try await registry.lookup(device: device), route != tried,
                  let record = try await registry.edgeRecord(route.edge) else { return .offline }
            if try await disconnect(device: device, session: route.session, on: route.edge, at: record, code: code,
                                    reconnectAfterMs: reconnectAfterMs.map(UInt32.init)) {
                return .disconnected(edge: route.edge, session: route.session)
            }
            tried = route
        }
        return .offline
    }

    /// Sends one `disconnect` notice for `session` to `edge`; true when the edge held that session and is closing it.
    /// The code and delay are not checked here (``disconnect(device:code:reconnectAfterMs:)`` checks them).
    public func disconnect(device: String, session: String, on edge: String, at record: EdgeRecord, code: UInt16,
                           reconnectAfterMs: UInt32?) async throws -> Bool {
        let notice = HandoffNotice.disconnect(device: device, session: session, code: code, reconnectAfterMs: reconnectAfterMs)
        let answers = try await HandoffExchange.run(.notices(batch: 1, [notice]), batch: 1, edge: edge, at: record,
                                                    sender: sender, secret: secret, group: group, timeout: timeout)
        return answers.contains { if case .closed(1, let sessions) = $0 { sessions.contains(session) } else { false } }
    }

    /// Asks `edge` to drain, as SIGTERM would: it tells its devices in waves to reconnect elsewhere, then exits.
    /// - Returns: false when the edge has no liveness record (not running, or already gone).
    /// - Throws: ``HandoffExchangeError`` when the edge does not answer; Redis errors.
    public func drain(edge: String) async throws -> Bool {
        guard let record = try await registry.edgeRecord(edge) else { return false }
        _ = try await HandoffExchange.run(.drain(batch: 1), batch: 1, edge: edge, at: record, sender: sender,
                                          secret: secret, group: group, timeout: timeout)
        return true
    }
}

/// A control request refused before anything was sent: the API answers 400.
public enum EdgeControlError: Error, Equatable, CustomStringConvertible {
    case closeCodeNotAllowed(UInt16)
    case reconnectDelayOutOfRange(Int)

    public var description: String {
        switch self {
        case .closeCodeNotAllowed(let code):
            "close code \(code) is not one a client may be sent: use 1000, 1001 or 4000 to 4999"
        case .reconnectDelayOutOfRange(let delay):
            "reconnect delay \(delay) ms is out of range: 0 to \(EdgeControl.reconnectDelays.upperBound)"
        }
    }
}
