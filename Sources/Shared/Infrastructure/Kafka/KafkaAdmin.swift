internal import CRdKafka
import Logging

/// Cluster checks and topic management. Every method blocks until the broker answers or its timeout passes, so
/// call it at startup or from a thread that may block, never from an event loop. Safe to share between threads.
public final class KafkaAdmin: Sendable {
    let handle: KafkaHandle
    private let closed = Locked(false)

    /// Uses a producer-type client; `allow.auto.create.topics=false` so that asking about a topic never creates it.
    public init(config: KafkaConfig, logger: Logger) throws {
        handle = try KafkaHandle(
            type: RD_KAFKA_PRODUCER, role: .admin, config: config, defaults: ["allow.auto.create.topics": "false"],
            logger: logger)
    }

    /// Throws "cannot reach Kafka broker at <bootstrap> within N s: <last connection error>" unless a broker
    /// answers a metadata request within `timeout`.
    public func checkReachable(timeout: Duration = .seconds(10)) throws {
        try ensureOpen()
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle.pointer, 0, nil, &metadata, timeout.kafkaMilliseconds)
        if err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata {
            rd_kafka_metadata_destroy(metadata)
            return
        }
        // Serves queued error events, so lastError holds the connection failure (e.g. "Connection refused").
        rd_kafka_poll(handle.pointer, 0)
        let reason = handle.context.lastError.withLock { $0 } ?? String(cString: rd_kafka_err2str(err))
        throw KafkaError(
            code: err.rawValue,
            message: "cannot reach Kafka broker at \(handle.bootstrapServers) within \(timeout.kafkaSecondsText) s: \(reason)",
            isRetriable: true)
    }

    /// Creates the topics that do not exist yet; an existing topic counts as success (its partition count is
    /// not checked). Throws the first per-topic failure.
    public func createTopics(_ topics: [TopicSpec], timeout: Duration = .seconds(15)) throws {
        try ensureOpen()
        guard !topics.isEmpty else { return }
        let rk = handle.pointer
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
        for spec in topics {
            guard let topic = rd_kafka_NewTopic_new(spec.name, spec.partitions, Int32(spec.replicationFactor),
                                                    &errstr, errstr.count) else {
                throw KafkaError.invalid("invalid topic \(spec.name): \(KafkaHandle.string(fromBuffer: errstr))")
            }
            newTopics.append(topic)
        }
        let event = try request(RD_KAFKA_ADMIN_OP_CREATETOPICS, "CreateTopics", timeout: timeout, operationTimeout: true) {
            rd_kafka_CreateTopics(rk, &newTopics, newTopics.count, $0, $1)
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
        else { return }
        for result in UnsafeBufferPointer(start: results, count: count) {
            let topicErr = rd_kafka_topic_result_error(result)
            guard topicErr != RD_KAFKA_RESP_ERR_NO_ERROR, topicErr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
                continue
            }
            let name = String(cString: rd_kafka_topic_result_name(result))
            let text = rd_kafka_topic_result_error_string(result).map { String(cString: $0) }
                ?? String(cString: rd_kafka_err2str(topicErr))
            throw KafkaError(code: topicErr.rawValue, message: "cannot create topic \(name): \(text)",
                             isRetriable: KafkaError.retriableCodes.contains(topicErr.rawValue))
        }
        rd_kafka_poll(rk, 0)  // serve error events, which would otherwise pile up on the unpolled main queue
    }

    /// The names of every topic the cluster has, from a fresh metadata request.
    public func topicNames(timeout: Duration = .seconds(5)) throws -> [String] {
        try ensureOpen()
        defer { rd_kafka_poll(handle.pointer, 0) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeout.kafkaMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err, context: "listing topics failed") }
        defer { rd_kafka_metadata_destroy(metadata) }
        return UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
            .compactMap { $0.topic.map { String(cString: $0) } }
    }

    /// The number of partitions of `topic` from a fresh metadata request, nil if the broker does not know it.
    public func partitionCount(topic: String, timeout: Duration = .seconds(5)) throws -> Int32? {
        try ensureOpen()
        defer { rd_kafka_poll(handle.pointer, 0) }
        return try handle.partitionCount(topic: topic, timeout: timeout)
    }

    /// Makes later calls throw. Idempotent; the connection itself is released when the admin is deinitialized.
    public func close() {
        closed.withLock { $0 = true }
    }

    func ensureOpen() throws {
        if closed.withLock({ $0 }) { throw KafkaError.closed("Kafka admin client") }
    }

    /// Runs one admin request with its timeouts on a queue of its own and returns its result event (to destroy);
    /// `operationTimeout` also bounds the broker's own work (topic creation).
    func request(_ operation: rd_kafka_admin_op_t, _ name: String, timeout: Duration, operationTimeout: Bool = false,
                 _ call: (OpaquePointer?, OpaquePointer?) -> Void) throws -> OpaquePointer {
        var errstr = [CChar](repeating: 0, count: 512)
        let options = rd_kafka_AdminOptions_new(handle.pointer, operation)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.kafkaMilliseconds, &errstr, errstr.count)
        if operationTimeout {
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.kafkaMilliseconds, &errstr, errstr.count)
        }
        let queue = rd_kafka_queue_new(handle.pointer)
        defer { rd_kafka_queue_destroy(queue) }
        call(options, queue)
        // The request times out by itself; the extra second only lets its timeout event arrive.
        guard let event = rd_kafka_queue_poll(queue, (timeout + .seconds(1)).kafkaMilliseconds) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, context: "\(name) at \(handle.bootstrapServers)")
        }
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            rd_kafka_event_destroy(event)
            throw KafkaError(code: err.rawValue, message: "\(name) failed: \(text)",
                             isRetriable: KafkaError.retriableCodes.contains(err.rawValue))
        }
        return event
    }
}
