/// What routers and edges say to each other on the hand-off connection (docs/handoff.md): a router, or an edge
/// asking another edge to close a replaced connection, connects to the edge's hand-off listener and sends notices.
///
/// A notice names the connection (session) it is for: an edge delivers it only to that connection, so a notice meant
/// for an earlier process of the same edge id, or for a connection that has ended, finds nobody and is dropped. A
/// notice is never taken for a delivery: the message waits in the device's mailbox until the device acks it.
public enum HandoffFrame: Sendable, Equatable {
    /// Sender → edge, first: the protocol version, the edge the sender wants, who the sender is (for logs), and the
    /// installation's hand-off secret ("" when it has none).
    case hello(version: UInt8, edge: String, sender: String, secret: String)
    /// Edge → sender, the answer to a hello naming this edge: its id and its process instance.
    case welcome(edge: String, instance: String)
    /// Sender → edge: notices in order, under a batch number that the edge acks.
    case notices(batch: UInt64, [HandoffNotice])
    /// Edge → sender: every notice of `batch` has been handed to the connection it names (or dropped, when that
    /// connection is not here): the edge has taken responsibility for it.
    case ack(batch: UInt64)
    /// Either way, last: why the connection is being closed.
    case error(String)
    /// Sender → edge (an operator's control, ``EdgeControl``): start draining, exactly as SIGTERM does. The edge acks
    /// `batch` once it has started.
    case drain(batch: UInt64)
    /// Edge → sender, just before the ack of a batch that held `disconnect` notices: the sessions among them that
    /// were connected here and are being closed. A session left out was not here (gone, or replaced).
    case closed(batch: UInt64, sessions: [String])

    /// The version this build speaks.
    public static let version: UInt8 = 1
}

/// One thing for one device's connection on an edge.
public enum HandoffNotice: Sendable, Equatable {
    /// `entry` is stored in the device's mailbox; deliver it to the connection `session` if it is next in order.
    case message(device: String, session: String, entry: MailboxEntry)
    /// A newer connection of the device replaced `session`: close it (4004).
    case close(device: String, session: String)
    /// An operator closes `session` with `code`, after a `reconnect` frame asking the device to come back after
    /// `reconnectAfterMs` when that is set. The edge names the sessions it closed in a `closed` frame before the ack.
    case disconnect(device: String, session: String, code: UInt16, reconnectAfterMs: UInt32?)

    public var device: String {
        switch self {
        case .message(let device, _, _), .close(let device, _), .disconnect(let device, _, _, _): device
        }
    }

    /// The connection the notice is for.
    public var session: String {
        switch self {
        case .message(_, let session, _), .close(_, let session), .disconnect(_, let session, _, _): session
        }
    }
}
