internal import CRdKafka

/// How far one consumer group is behind on one topic: per partition, the offset it committed, the partition's end
/// (high watermark) and the difference.
public struct ConsumerGroupLag: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var partition: Int32
        /// The group's committed offset (the next record it will read), or -1 when it committed none there.
        public var committed: Int64
        /// The partition's high watermark: the offset the next record produced will get.
        public var end: Int64
        /// `end - committed` (`end` less the partition's first offset when nothing is committed), never below 0.
        public var lag: Int64

        public init(partition: Int32, committed: Int64, end: Int64, lag: Int64) {
            self.partition = partition
            self.committed = committed
            self.end = end
            self.lag = lag
        }
    }

    public var group: String
    public var topic: String
    /// Every partition of the topic, in order.
    public var partitions: [Partition]
    /// The sum of the partitions' lag.
    public var lag: Int64 { partitions.reduce(0) { $0 + $1.lag } }

    public init(group: String, topic: String, partitions: [Partition]) {
        self.group = group
        self.topic = topic
        self.partitions = partitions
    }
}

extension KafkaAdmin {
    /// The lag of each group on each topic it has committed offsets on: the groups' committed offsets
    /// (OffsetFetch, one request per group), the topics' partitions (metadata) and each partition's watermarks
    /// (ListOffsets, one request per partition). A group that has committed nothing is left out. Blocks for up to
    /// `timeout` per request: never on an event loop or the cooperative pool.
    ///
    /// Limit (docs/operations.md): Tansu 0.6 answers a partition's high watermark as the base offset of its last
    /// record batch plus one, so with records produced in batches `end` reads short by up to a batch, and the lag too
    /// (it is never shown below 0). Apache Kafka answers the true end.
    /// - Parameter groups: the groups to report, sorted by the caller's order; nil for every group the broker lists.
    /// - Throws: ``KafkaError`` for the first request that failed or timed out.
    public func consumerGroupLag(groups: [String]? = nil, timeout: Duration = .seconds(10)) throws -> [ConsumerGroupLag] {
        try ensureOpen()
        defer { rd_kafka_poll(handle.pointer, 0) }
        var report: [ConsumerGroupLag] = []
        for group in try groups ?? consumerGroups(timeout: timeout).sorted() {
            let committed = try committedOffsets(group: group, timeout: timeout)
            for topic in committed.keys.sorted() {
                let count = try handle.partitionCount(topic: topic, timeout: timeout) ?? 0
                let known = Set(committed[topic]!.keys)
                var partitions: [ConsumerGroupLag.Partition] = []
                for partition in (Array(0..<count) + known.filter { $0 >= count }).sorted() {
                    var low: Int64 = 0, high: Int64 = 0
                    let err = rd_kafka_query_watermark_offsets(handle.pointer, topic, partition, &low, &high,
                                                               timeout.kafkaMilliseconds)
                    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError(err, context: "watermarks of \(topic)[\(partition)]")
                    }
                    let offset = committed[topic]![partition] ?? -1
                    partitions.append(.init(partition: partition, committed: offset, end: high,
                                            lag: max(0, high - (offset >= 0 ? offset : low))))
                }
                report.append(ConsumerGroupLag(group: group, topic: topic, partitions: partitions))
            }
        }
        return report
    }

    /// The ids of every consumer group the broker lists (ListGroups).
    public func consumerGroups(timeout: Duration = .seconds(10)) throws -> [String] {
        try ensureOpen()
        let event = try request(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, "ListConsumerGroups", timeout: timeout) { options, queue in
            rd_kafka_ListConsumerGroups(handle.pointer, options, queue)
        }
        defer { rd_kafka_event_destroy(event) }
        guard let result = rd_kafka_event_ListConsumerGroups_result(event) else {
            throw KafkaError.invalid("ListConsumerGroups: the broker's answer has no result")
        }
        var errorCount = 0
        if let errors = rd_kafka_ListConsumerGroups_result_errors(result, &errorCount), errorCount > 0, let first = errors[0] {
            let text = String(cString: rd_kafka_error_string(first))
            throw KafkaError(code: rd_kafka_error_code(first).rawValue, message: "ListConsumerGroups: \(text)", isRetriable: true)
        }
        var count = 0
        guard let listings = rd_kafka_ListConsumerGroups_result_valid(result, &count) else { return [] }
        return (0..<count).compactMap { listings[$0].map { String(cString: rd_kafka_ConsumerGroupListing_group_id($0)) } }
    }

    /// The offsets `group` committed, by topic and partition (OffsetFetch for all of its partitions).
    private func committedOffsets(group: String, timeout: Duration) throws -> [String: [Int32: Int64]] {
        var list: [OpaquePointer?] = [rd_kafka_ListConsumerGroupOffsets_new(group, nil)]
        defer { rd_kafka_ListConsumerGroupOffsets_destroy_array(&list, 1) }
        let event = try request(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, "ListConsumerGroupOffsets", timeout: timeout) { options, queue in
            rd_kafka_ListConsumerGroupOffsets(handle.pointer, &list, 1, options, queue)
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event),
              let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count), count > 0, let first = groups[0] else {
            throw KafkaError.invalid("ListConsumerGroupOffsets for \(group): the broker's answer has no group")
        }
        if let error = rd_kafka_group_result_error(first) {
            let code = rd_kafka_error_code(error)
            throw KafkaError(code: code.rawValue, message: "committed offsets of \(group): \(String(cString: rd_kafka_error_string(error)))",
                             isRetriable: KafkaError.retriableCodes.contains(code.rawValue))
        }
        var offsets: [String: [Int32: Int64]] = [:]
        guard let partitions = rd_kafka_group_result_partitions(first) else { return offsets }
        for element in UnsafeBufferPointer(start: partitions.pointee.elems, count: Int(partitions.pointee.cnt))
        where element.err == RD_KAFKA_RESP_ERR_NO_ERROR && element.offset >= 0 {
            offsets[String(cString: element.topic), default: [:]][element.partition] = element.offset
        }
        return offsets
    }
}
