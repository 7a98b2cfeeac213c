internal import CRdKafka
import Lifecycle
import Logging

/// Owns one `rd_kafka_t` and its callback context, and destroys the handle in `deinit`.
///
/// The producer, consumer and admin wrappers each hold one. librdkafka handles are thread-safe, which is why
/// this class is `@unchecked Sendable`; the raw pointer never leaves the Kafka wrapper files.
final class KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let context: KafkaClientContext
    let bootstrapServers: String

    /// Builds the configuration (`defaults`, then `config`), registers the log and error callbacks plus whatever
    /// `configure` adds, and creates the client.
    init(
        type: rd_kafka_type_t, role: KafkaConfig.Role, config: KafkaConfig, defaults: KeyValuePairs<String, String>,
        logger: Logger,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        try Librdkafka.requireSupportedVersion()
        let context = KafkaClientContext(logger: logger)
        guard let conf = rd_kafka_conf_new() else { throw KafkaError.invalid("rd_kafka_conf_new failed") }
        // rd_kafka_new takes ownership of conf only when it succeeds.
        var confOwned = true
        defer { if confOwned { rd_kafka_conf_destroy(conf) } }

        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in config.resolved(defaults: defaults, role: role) {
            guard rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) == RD_KAFKA_CONF_OK else {
                // Passwords and keys never reach an error message or a log line.
                let shown = KafkaConfig.isSecret(name) ? "<redacted>" : value
                throw KafkaError.invalid("invalid Kafka property \(name)=\(shown): \(KafkaHandle.string(fromBuffer: errstr).replacingOccurrences(of: value, with: "<redacted>"))")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
            let text = message.map { String(cString: $0) } ?? ""
            let facilityText = facility.map { String(cString: $0) } ?? ""
            context.logger.log(
                level: KafkaHandle.logLevel(syslog: level), "librdkafka: \(text)",
                metadata: ["kafka.facility": "\(facilityText)"])
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
            let text = reason.map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(err)))
            context.lastError.withLock { $0 = text }
            let fatal = err == RD_KAFKA_RESP_ERR__FATAL.rawValue
            context.logger.log(level: fatal ? .error : .warning, "Kafka client error: \(text)",
                               metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(err))))"])
            if fatal { context.onFatal.withLock { $0 }?(text) }
        }
        configure(conf)

        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            throw KafkaError.invalid("cannot create Kafka client: \(KafkaHandle.string(fromBuffer: errstr))")
        }
        confOwned = false
        pointer = rk
        self.context = context
        bootstrapServers = config.bootstrapServers
    }

    deinit {
        rd_kafka_destroy(pointer)
    }

    /// librdkafka's client name, e.g. "rdkafka#producer-1".
    var name: String { String(cString: rd_kafka_name(pointer)) }

    /// The effective value of a librdkafka property of this client.
    func property(_ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard rd_kafka_conf_get(rd_kafka_conf(pointer), name, &buffer, &size) == RD_KAFKA_CONF_OK else { return nil }
        return KafkaHandle.string(fromBuffer: buffer)
    }

    /// Partitions of `topic` according to a fresh metadata request, nil if the broker does not know the topic.
    func partitionCount(topic: String, timeout: Duration) throws -> Int32? {
        guard let rkt = rd_kafka_topic_new(pointer, topic, nil) else {
            throw KafkaError(rd_kafka_last_error(), context: "invalid topic \(topic)")
        }
        defer { rd_kafka_topic_destroy(rkt) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(pointer, 0, rkt, &metadata, timeout.kafkaMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(err, context: "metadata request for topic \(topic) to \(bootstrapServers)")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
        guard let found = topics.first(where: { String(cString: $0.topic) == topic }) else { return nil }
        if found.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || found.partition_cnt == 0 { return nil }
        return found.partition_cnt
    }

    /// The NUL-terminated text librdkafka wrote into an `errstr` buffer.
    static func string(fromBuffer buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Maps syslog levels, which librdkafka uses, to swift-log's.
    static func logLevel(syslog level: Int32) -> Logger.Level {
        switch level {
        case ...2: return .critical
        case 3: return .error
        case 4: return .warning
        case 5: return .notice
        case 6: return .info
        default: return .debug
        }
    }
}

extension Duration {
    /// Whole milliseconds for librdkafka's `int timeout_ms` arguments, clamped to 0...Int32.max.
    var kafkaMilliseconds: Int32 { Int32(clamping: max(0, inMilliseconds)) }

    /// "10" or "0.5", for messages that say "within N s".
    var kafkaSecondsText: String {
        let ms = Int(kafkaMilliseconds)
        return ms % 1000 == 0 ? "\(ms / 1000)" : "\(Double(ms) / 1000)"
    }
}
