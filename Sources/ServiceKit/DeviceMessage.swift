import ChannelProtocol
import Foundation
import Shared

/// A message a device sent to a service, as the edge published it on `<prefix>.up.<service>`
/// (docs/kafka-contract.md, "Upstream records").
///
/// Guarantees: `device` is the sender as proven by its token (the edge sets it, never the device), and `id` is the
/// device's own id for the message, the same on every redelivery, so a service can drop duplicates by (device, id).
public struct DeviceMessage: Sendable, Equatable {
    public var device: String
    public var service: String
    public var id: String
    public var payload: Payload
    /// The edge and connection it arrived on, and when (edge clock, Unix milliseconds); nil if a header is missing.
    public var edge: String?
    public var session: String?
    public var receivedAtMs: Int64?
    /// Where it was in Kafka.
    public var partition: Int32
    public var offset: Int64

    public init(device: String, service: String, id: String, payload: Payload, edge: String? = nil, session: String? = nil,
                receivedAtMs: Int64? = nil, partition: Int32 = 0, offset: Int64 = 0) {
        self.device = device
        self.service = service
        self.id = id
        self.payload = payload
        self.edge = edge
        self.session = session
        self.receivedAtMs = receivedAtMs
        self.partition = partition
        self.offset = offset
    }

    /// The message in an upstream record, or nil when the record lacks the `device` or `id` header.
    public init?(record: KafkaRecord, service: String) {
        guard let device = record.headerString(RecordHeader.device), let id = record.headerString(RecordHeader.messageID) else {
            return nil
        }
        self.init(device: device, service: record.headerString(RecordHeader.service) ?? service, id: id,
                  payload: Payload.from(bytes: record.value, contentType: record.headerString(RecordHeader.contentType)),
                  edge: record.headerString(RecordHeader.edge), session: record.headerString(RecordHeader.session),
                  receivedAtMs: record.headerString(RecordHeader.receivedAt).flatMap { Int64($0) },
                  partition: record.partition, offset: record.offset)
    }
}
