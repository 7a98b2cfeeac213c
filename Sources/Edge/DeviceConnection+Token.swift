import ChannelProtocol
import Foundation
import NIOCore
import Shared

/// The token's life on an open connection (docs/protocol.md, "Token refresh"): `refresh` replaces the grant,
/// `refresh_due` warns ahead of `exp`, and an expired or revoked token ends the connection.
extension DeviceConnection {
    /// A burst of 3 refreshes, then one per 10 s: verifying costs CPU (ES256 most), and a device needs one per token.
    static let refreshBurst = 3
    static let refreshesPerSecond = 0.1

    /// Verifies a refresh's token off the loop (jwt-kit is async); the new grant applies from the next frame the
    /// device sends after `refreshed`. A refused refresh leaves the connection and its grant as they were.
    func refresh(token: String, device: String, channel: any Channel) {
        var rate = refreshRate ?? TokenBucket(rate: Self.refreshesPerSecond, burst: Self.refreshBurst,
                                              now: NIODeadline.now().uptimeNanoseconds)
        let allowed = rate.take(now: NIODeadline.now().uptimeNanoseconds)
        refreshRate = rate
        guard allowed else {
            return refuseRefresh(ProtocolError(.authFailed, "refresh too often: \(Self.refreshBurst) at once, then one per \(Int(1 / Self.refreshesPerSecond)) s", ref: ProtocolError.refreshRef),
                                 outcome: "too_often", channel: channel)
        }
        let edge = self.edge
        let checked = channel.eventLoop.makeFutureWithTask { () async throws -> DeviceGrant in
            let grant: DeviceGrant
            do {
                grant = try await edge.tokens.verify(token, device: device)
            } catch {
                throw ProtocolError(.authFailed, "refresh refused: \((error as? TokenError)?.message ?? "token invalid")", ref: ProtocolError.refreshRef)
            }
            return grant
        }
        checked.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let grant) where edge.revocations.revokes(grant):
                // Checked here on the loop, after verifying: a rule set while the token was verified counts too.
                refuseRefresh(ProtocolError(.authFailed, "refresh refused: token revoked", ref: ProtocolError.refreshRef), outcome: "refused",
                              channel: channel)
            case .success(let grant):
                guard let action = session.refreshed(grant) else { return }
                edge.metrics.refresh("ok")
                refreshDueSent = false
                perform(action, channel: channel)
                dropSubscriptionsNotAllowed(by: grant)
            case .failure(let error):
                refuseRefresh(error as? ProtocolError ?? ProtocolError(.authFailed, "refresh refused", ref: ProtocolError.refreshRef),
                              outcome: "refused", channel: channel)
            }
        }
    }

    private func refuseRefresh(_ error: ProtocolError, outcome: String, channel: any Channel) {
        guard session.readySession != nil else { return }
        edge.metrics.refresh(outcome)
        perform(.send(.error(error)), channel: channel)
    }

    /// Subscriptions the new grant no longer allows end as if the device had unsubscribed.
    private func dropSubscriptionsNotAllowed(by grant: DeviceGrant) {
        for topic in subscriptions.keys where !grant.allows(topic: topic) { unsubscribe(topic) }
    }

    /// From the sweep: sends `refresh_due` once per grant when its expiry is near, and closes the connection (4008)
    /// once the grace after it has passed. Returns false when it closed the connection.
    func checkToken(wallSeconds: Double, channel: any Channel) -> Bool {
        guard session.readySession != nil, let grant = session.grant else { return true }
        let expires = grant.expiresAt.timeIntervalSince1970
        if wallSeconds >= expires + Double(edge.config.tokenGraceSeconds) {
            edge.metrics.tokenClosed("token_expired")
            perform(session.close(ProtocolError(.tokenExpired, "the token expired and was not refreshed: get a new one, then reconnect"),
                                  .tokenExpired), channel: channel)
            return false
        }
        if !refreshDueSent && wallSeconds >= expires - refreshLead(grant) {
            refreshDueSent = true
            channel.send(.refreshDue(expiresAt: Int(expires)), as: encoding)
        }
        return true
    }

    /// How long before `exp` the device is warned: the configured lead, or a fifth of the token's life if shorter.
    private func refreshLead(_ grant: DeviceGrant) -> Double {
        let life = grant.expiresAt.timeIntervalSince(grant.issuedAt)
        return min(Double(edge.config.refreshLeadSeconds), max(1, life / 5))
    }

    /// Closes the connection (4009) if `revocations` stop its token. On the connection's event loop.
    func closeIfRevoked(_ revocations: RevocationSet, now: Int64) {
        guard let channel, session.readySession != nil, let grant = session.grant,
              revocations.revocation(of: grant, now: now) != nil else { return }
        edge.metrics.tokenClosed("revoked")
        perform(session.close(ProtocolError(.revoked, "this token was revoked: get a new one"), .revoked), channel: channel)
    }
}
