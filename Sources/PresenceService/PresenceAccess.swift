import ServiceKit

/// Who may do what with presence (docs/presence.md, "Permissions"): the sender's verified claims decide, as the edge
/// stamped them on its message (``SenderClaims``, the token's claims plus the service catalog's defaults).
///
/// Guarantees: `set` (the sender's own entry), `unwatch` and `leave` are always allowed, and so is watching the sender
/// itself; a `watch` is allowed only when a pattern of the claim `watch` matches every other device it names (all or
/// nothing: nothing changes when one is refused), a `join` only when a pattern of `rooms` matches the room. `{sub}`
/// in a pattern stands for the sender. Without claims (a record from an edge that sends none) nothing beyond the
/// always-allowed ops is.
enum PresenceAccess {
    /// The claim whose patterns name the devices a sender may watch.
    static let watchClaim = "watch"
    /// The claim whose patterns name the rooms a sender may join.
    static let roomsClaim = "rooms"
    /// How many refused devices a `forbidden` message names before it counts the rest.
    static let namedInMessage = 10

    /// Nil when `claims` allow `op`, else the `forbidden` error to reply with.
    static func check(_ op: PresenceOp, claims: SenderClaims) -> PresenceOpError? {
        switch op {
        case .set, .unwatch, .leave:
            return nil
        case .watch(let devices):
            let refused = devices.filter { $0 != claims.sender && !claims.allows(watchClaim, $0) }
            guard !refused.isEmpty else { return nil }
            var named = refused.prefix(namedInMessage).joined(separator: ", ")
            if refused.count > namedInMessage { named += " and \(refused.count - namedInMessage) more" }
            return PresenceOpError(.forbidden, "may not watch \(named): no pattern of the token's \"\(watchClaim)\" claim matches; nothing was watched")
        case .join(let room):
            guard !claims.allows(roomsClaim, room) else { return nil }
            return PresenceOpError(.forbidden, "may not join room \(room): no pattern of the token's \"\(roomsClaim)\" claim matches")
        }
    }
}
