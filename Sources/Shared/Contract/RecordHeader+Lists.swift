/// Every header each record of the Kafka contract carries, by record, in one place: docs/asyncapi.yaml lists the same
/// names per message, and ContractDocTests holds the two (and these lists and the codecs beside them) to each other.
///
/// Guarantees: each list is every header name that record's encoder writes or its decoder reads, and no other.
extension RecordHeader {
    /// ``UpstreamRecord``: all eight, from an edge.
    public static let upstream = [device, service, messageID, contentType, edge, session, receivedAt, claims]
    /// ``DownstreamRecord``: `device` is written for backends' sake and never read.
    public static let downstream = [device, service, messageID, contentType, ttl, inReplyTo, receipt]
    /// ``ReportRecord``.
    public static let report = [device, service, messageID, contentType, reason, expiresAt]
    /// ``ConnectionEvent`` (`connect` and `disconnect`).
    public static let connectionEvent = [event, device, edge, session, epoch, at]
    /// ``ConnectionEventRecord/started(edge:atMs:)``.
    public static let edgeStart = [event, edge, at]
    /// ``TopicRecord``.
    public static let topic = [service, contentType, messageID]
}
