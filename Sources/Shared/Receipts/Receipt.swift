/// Where a message that asked for a receipt stands (docs/redis-schema.md, "Receipts").
///
/// Guarantees: a receipt only moves forward, `waiting` → `delivered` → one of the final states; a final state never
/// changes (a late `delivered` after `acked`, or an `acked` after `deleted`, is ignored by the Redis scripts).
public enum ReceiptState: String, Sendable, CaseIterable {
    /// Stored in the device's mailbox.
    case waiting
    /// The notice was handed to the device's edge, which acked it (the device may not have acked yet).
    case delivered
    /// The device acked the message: it is out of the mailbox.
    case acked
    /// It expired before the device acked it (in the mailbox, or already when the router got it: reason `on_arrival`).
    case expired
    /// The mailbox refused it (reason `mailbox_full`).
    case refused
    /// Removed from the mailbox through the API before the device acked it.
    case deleted

    /// Final states never change.
    public var isFinal: Bool { self != .waiting && self != .delivered }
}

/// The delivery receipt of one message: what ``ReceiptStore`` reads from Redis. Times are Unix milliseconds by the
/// Redis server clock.
public struct Receipt: Sendable, Equatable {
    public var device: String
    public var id: String
    /// The sending service.
    public var service: String
    public var state: ReceiptState
    /// When the state last changed.
    public var updatedAt: Int64
    /// When the mailbox stored it (nil if it was never stored: refused, or expired on arrival).
    public var storedAt: Int64?
    /// When its edge acked the notice.
    public var deliveredAt: Int64?
    /// When the device acked it.
    public var ackedAt: Int64?
    /// When the message expires or expired.
    public var expiresAt: Int64?
    /// The edge it was handed to.
    public var edge: String?
    /// Why it was refused (`mailbox_full`) or expired before it was stored (`on_arrival`).
    public var reason: String?

    public init(device: String, id: String, service: String, state: ReceiptState, updatedAt: Int64,
                storedAt: Int64? = nil, deliveredAt: Int64? = nil, ackedAt: Int64? = nil, expiresAt: Int64? = nil,
                edge: String? = nil, reason: String? = nil) {
        self.device = device
        self.id = id
        self.service = service
        self.state = state
        self.updatedAt = updatedAt
        self.storedAt = storedAt
        self.deliveredAt = deliveredAt
        self.ackedAt = ackedAt
        self.expiresAt = expiresAt
        self.edge = edge
        self.reason = reason
    }
}
