import ChannelProtocol
import Foundation
import Infrastructure
import Shared

/// A message a device sent to a service, as the edge published it on `<prefix>.up.<service>`
/// (docs/kafka-contract.md, "Upstream records").
///
/// Guarantees: `device` is the sender as proven by its token (the edge sets it, never the device), and `id` is the
/// device's own id for the message, the same on every redelivery, so a service can drop duplicates by (device, id);
/// ``claims`` are the sender's verified claims from the same record.
@dynamicMemberLookup
public struct DeviceMessage: Sendable, Equatable {
    /// The message as the edge published it; its fields (`device`, `service`, `id`, `payload`, `edge`, `session`,
    /// `receivedAtMs`) read and write as the message's own, as in `message.device`.
    public var upstream: UpstreamRecord
    /// The sender's verified claims, parsed from the record's `claims` header (none when it has no such header).
    /// Parsed when asked for, so that services that never look pay nothing per message: read it once per message.
    public var claims: SenderClaims { SenderClaims(sender: upstream.device, json: upstream.claims) }
    /// Where it was in Kafka.
    public var partition: Int32
    public var offset: Int64

    /// - Parameter claims: the `claims` header's bytes, a JSON object (nil: a record without it).
    public init(device: String, service: String, id: String, payload: Payload, edge: String? = nil, session: String? = nil,
                receivedAtMs: Int64? = nil, claims: [UInt8]? = nil, partition: Int32 = 0, offset: Int64 = 0) {
        upstream = UpstreamRecord(device: device, service: service, id: id, payload: payload, edge: edge, session: session,
                                  receivedAtMs: receivedAtMs, claims: claims)
        self.partition = partition
        self.offset = offset
    }

    /// The message in an upstream record, or nil when the record lacks the `device` or `id` header
    /// (``UpstreamRecord/init(record:service:)``).
    public init?(record: KafkaRecord, service: String) {
        guard let upstream = UpstreamRecord(record: record, service: service) else { return nil }
        self.upstream = upstream
        partition = record.partition
        offset = record.offset
    }

    /// A field of ``upstream``.
    public subscript<Value>(dynamicMember field: WritableKeyPath<UpstreamRecord, Value>) -> Value {
        get { upstream[keyPath: field] }
        set { upstream[keyPath: field] = newValue }
    }
}
