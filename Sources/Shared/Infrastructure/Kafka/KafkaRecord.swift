internal import CRdKafka

/// A consumed record, fully copied out of librdkafka's memory: it stays valid after the next poll and can
/// cross threads freely.
public struct KafkaRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// nil when the record was produced without a key.
    public var key: [UInt8]?
    public var value: [UInt8]
    /// In the order the producer added them.
    public var headers: [KafkaHeader]
    /// Create or log-append time in milliseconds since 1970, when the broker provides one.
    public var timestampMs: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8],
                headers: [KafkaHeader] = [], timestampMs: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMs = timestampMs
    }

    /// The value of the last header called `name`, as Kafka clients conventionally read repeated headers.
    public func header(_ name: String) -> [UInt8]? {
        headers.last { $0.name == name }?.value
    }

    /// ``header(_:)`` decoded as UTF-8 (invalid bytes become U+FFFD).
    public func headerString(_ name: String) -> String? {
        header(name).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension KafkaRecord {
    /// Copies a successfully consumed message. The caller still owns and destroys `message`.
    init(copying message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = message.pointee
        topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        partition = m.partition
        offset = m.offset
        key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []

        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(message, &type)
        timestampMs = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 ? nil : ts

        headers = []
        var hdrs: OpaquePointer?
        guard rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return }
        var index = 0
        var name: UnsafePointer<CChar>?
        var bytes: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(hdrs, index, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let headerValue = bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            headers.append(KafkaHeader(name.map { String(cString: $0) } ?? "", headerValue))
            index += 1
        }
    }
}
