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

    /// The version this build speaks.
    public static let version: UInt8 = 1
}

/// One thing for one device's connection on an edge.
public enum HandoffNotice: Sendable, Equatable {
    /// `entry` is stored in the device's mailbox; deliver it to the connection `session` if it is next in order.
    case message(device: String, session: String, entry: MailboxEntry)
    /// A newer connection of the device replaced `session`: close it (4004).
    case close(device: String, session: String)

    public var device: String {
        switch self {
        case .message(let device, _, _), .close(let device, _): device
        }
    }

    /// The connection the notice is for.
    public var session: String {
        switch self {
        case .message(_, let session, _), .close(_, let session): session
        }
    }
}
