import Infrastructure
/// The header names of the Kafka records of docs/kafka-contract.md.
///
/// This folder holds the whole Kafka contract: each record the gateway writes or reads has one type here whose encoder
/// (`record(...)`, an ``OutgoingRecord``) and decoder (`init(record:)`, from a ``KafkaRecord``) sit side by side, so a
/// change to a record's headers is a change to one file:
///
/// - ``UpstreamRecord``: `<prefix>.up.<service>`, written by edges, read by backends (ServiceKit's `DeviceMessage`).
/// - ``DownstreamRecord``: `<prefix>.down`, written by backends (ServiceKit's `Outbox`, the bench), read by routers.
/// - ``ReportRecord``: `<prefix>.report.<service>`, written by routers and edges, read by backends.
/// - ``ConnectionEventRecord`` (and the ``ConnectionEvent`` it carries): `<prefix>.connections`, written by edges,
///   read by the presence service.
///
/// The router→edge hand-off does not go through Kafka; its wire format is ``HandoffCodec`` (Handoff/HandoffCodec.swift,
/// docs/handoff.md).
public enum RecordHeader {
    /// The device the record is from (upstream) or for (downstream). Set by the edge from the device's token.
    public static let device = "device"
    /// The service the record is for (upstream) or from (downstream).
    public static let service = "service"
    /// The message id, unique per device and direction; duplicates carry the same id.
    public static let messageID = "id"
    /// `application/json` (the value is one JSON value) or `application/octet-stream`.
    public static let contentType = "content-type"
    /// The edge that received the message from the device (upstream), or that holds the connection (connection events).
    public static let edge = "edge"
    /// The connection session on that edge (upstream and connection events).
    public static let session = "session"
    /// When the edge received the message, Unix milliseconds as decimal text (upstream only).
    public static let receivedAt = "received-at"
    /// Upstream: the sender's verified token claims other than `sub` and `aud`, one compact JSON object (keys sorted),
    /// with the service catalog's defaults for the service added where the token has no such claim. Backends enforce
    /// their own rules with it (for example presence's `rooms` and `watch`).
    public static let claims = "claims"
    /// For a reply, the id of the device message it answers (optional).
    public static let inReplyTo = "in-reply-to"
    /// Downstream: seconds the message may wait for an offline device, decimal text (optional; the router's default
    /// applies when absent, its maximum when larger).
    public static let ttl = "ttl"
    /// Reports: when the message expires (or expired), Unix milliseconds as decimal text.
    public static let expiresAt = "expires-at"
    /// Downstream: `1` asks for a delivery receipt (optional; any other value or none asks for none).
    public static let receipt = "receipt"
    /// Reports: what happened to the message (`expired`, `mailbox_full`, and for messages with a receipt `delivered`
    /// and `acked`).
    public static let reason = "reason"
    /// Connection events: `connect`, `disconnect` or `start` (an edge started).
    public static let event = "event"
    /// Connection events: the epoch of the device's route claim, decimal text; per device it only grows.
    public static let epoch = "epoch"
    /// Connection events: when the edge saw it happen, Unix milliseconds as decimal text (edge clock).
    public static let at = "at"
}
