internal import CRdKafka
import Foundation
import Lifecycle
import Logging

/// A Kafka consumer for one dedicated thread (the caller's): either a group member (`subscribe`) or a reader of
/// all partitions of one topic from its end (`assignFromEnd`).
///
/// Offsets are committed only by ``commit(_:)``, never automatically, so a crash re-delivers records whose work
/// was not confirmed (at-least-once). Not safe for concurrent calls; `hasAssignment` may be read from anywhere.
public final class KafkaConsumer: @unchecked Sendable {
    private let handle: KafkaHandle
    private let groupID: String?
    private let logger: Logger
    private let closed = Locked(false)
    private let partitionEOFEnabled: Bool

    /// How long a group member may go without polling before the group drops it (`max.poll.interval.ms`, unless
    /// configured). Short, because Tansu joins groups fast only so; every blocking wait inside a consumer loop stays
    /// under it.
    public static let maxPollInterval: Duration = .seconds(10)

    /// Defaults: `enable.auto.commit=false`, `auto.offset.reset=earliest`, `fetch.wait.max.ms=5`,
    /// `max.poll.interval.ms=10000`, `session.timeout.ms=6000`, `enable.partition.eof=true` (EOF events are
    /// skipped by `poll`; `assignFromEnd` uses them), then `config.properties`.
    /// With `groupID` nil the consumer joins no group and cannot commit.
    public init(config: KafkaConfig, groupID: String?, logger: Logger) throws {
        self.groupID = groupID
        self.logger = logger
        handle = try KafkaHandle(
            type: RD_KAFKA_CONSUMER, role: .consumer, config: config,
            defaults: [
                "enable.auto.commit": "false",
                "enable.auto.offset.store": "false",
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": "5",
                "max.poll.interval.ms": String(Self.maxPollInterval.inMilliseconds),
                "session.timeout.ms": "6000",
                // assignFromEnd waits for EOF events; poll skips them.
                "enable.partition.eof": "true",
                // librdkafka's consumer API needs a group even to assign partitions by hand. A private one that
                // never subscribes and never commits has no effect on the broker's groups.
                "group.id": groupID ?? "channel-gateway-unmanaged-\(UUID().uuidString)",
            ],
            logger: logger
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let opaque else { return }
                KafkaConsumer.rebalance(rk, err, partitions,
                                        Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue())
            }
        }
        // One queue for records, rebalances, errors and logs, all served by rd_kafka_consumer_poll.
        rd_kafka_poll_set_consumer(handle.pointer)
        partitionEOFEnabled = handle.property("enable.partition.eof") == "true"
    }

    deinit {
        close()
    }

    /// Joins the group (configured `groupID`) for `topics`. Partitions arrive while ``poll(maxRecords:timeout:)``
    /// runs, which is when the rebalance callback is served.
    public func subscribe(topics: [String]) throws {
        try ensureOpen()
        guard groupID != nil else { throw KafkaError.invalid("subscribe needs a consumer group ID") }
        let list = Self.partitionList(topics.map { ($0, RD_KAFKA_PARTITION_UA, Int64(RD_KAFKA_OFFSET_INVALID)) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_subscribe(handle.pointer, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, context: "cannot subscribe to \(topics.joined(separator: ", "))")
        }
    }

    /// Assigns every partition of `topic` from its current end, so exactly the records produced after this
    /// returns are consumed (records produced while it runs may or may not be). Retries until `timeout` while the
    /// topic or its leaders are not yet known (a topic created just before).
    ///
    /// The end comes from `rd_kafka_query_watermark_offsets`, then is confirmed by fetching up to partition EOF:
    /// Tansu answers ListOffsets with the base offset of the last record batch plus one, not the end of that
    /// batch, and the records in between must not be delivered as new. A partition that keeps receiving records
    /// reaches EOF only when a fetch catches up with it, which a busy broker can delay for seconds: hence 30 s by
    /// default (10 s ran out under the test suite's start-up load).
    /// - Returns: per partition, the offset of the first record the consumer will deliver.
    @discardableResult
    public func assignFromEnd(topic: String, timeout: Duration = .seconds(30)) throws -> [Int32: Int64] {
        try ensureOpen()
        let deadline = ContinuousClock.now + timeout
        let partitionCount = try waitForPartitionCount(topic: topic, deadline: deadline)
        var starts: [(String, Int32, Int64)] = []
        for partition in 0..<partitionCount {
            starts.append((topic, partition, try highWatermark(topic: topic, partition: partition, deadline: deadline)))
        }
        let list = Self.partitionList(starts)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(handle.pointer, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "cannot assign \(topic)") }
        var next = Dictionary(uniqueKeysWithValues: starts.map { ($0.1, $0.2) })
        if partitionEOFEnabled {
            do {
                for (partition, skippedTo) in try skipToPartitionEOF(topic: topic, partitions: partitionCount, deadline: deadline) {
                    next[partition] = max(next[partition] ?? 0, skippedTo)
                }
            } catch {
                rd_kafka_assign(handle.pointer, nil)
                throw error
            }
        }
        handle.context.assigned.withLock { $0 = true }
        return next
    }

    private func waitForPartitionCount(topic: String, deadline: ContinuousClock.Instant) throws -> Int32 {
        while true {
            var failure = KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, context: "topic \(topic)")
            do {
                if let count = try handle.partitionCount(topic: topic, timeout: deadline - .now) { return count }
            } catch let error as KafkaError where error.isRetriable {
                failure = error
            }
            guard ContinuousClock.now + .milliseconds(100) < deadline else { throw failure }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    private func highWatermark(topic: String, partition: Int32, deadline: ContinuousClock.Instant) throws -> Int64 {
        var low: Int64 = 0
        var high: Int64 = 0
        while true {
            let err = rd_kafka_query_watermark_offsets(handle.pointer, topic, partition, &low, &high,
                                                       max(1, (deadline - .now).kafkaMilliseconds))
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return high }
            let error = KafkaError(err, context: "cannot read the end offset of \(topic)[\(partition)]")
            guard error.isRetriable, ContinuousClock.now + .milliseconds(100) < deadline else { throw error }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Polls until every partition reported EOF, dropping the records seen on the way: they existed before the
    /// EOF, hence before `assignFromEnd` returns. On Kafka this is one empty fetch per partition.
    /// - Returns: per partition where records were skipped, the offset after the last of them.
    private func skipToPartitionEOF(topic: String, partitions: Int32, deadline: ContinuousClock.Instant) throws -> [Int32: Int64] {
        var atEnd = Set<Int32>()
        var skipped = 0
        var after: [Int32: Int64] = [:]
        while atEnd.count < partitions {
            guard ContinuousClock.now < deadline else {
                throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT,
                                 context: "\(topic): only \(atEnd.count) of \(partitions) partitions reached their end")
            }
            guard let message = rd_kafka_consumer_poll(handle.pointer, min(100, (deadline - .now).kafkaMilliseconds))
            else { continue }
            defer { rd_kafka_message_destroy(message) }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                atEnd.insert(message.pointee.partition)
            } else if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                skipped += 1
                after[message.pointee.partition] = max(after[message.pointee.partition] ?? 0, message.pointee.offset + 1)
            } else {
                try handleConsumerError(err, text: String(cString: rd_kafka_message_errstr(message)))
            }
        }
        if skipped > 0 {
            logger.debug("assignFromEnd(\(topic)): skipped \(skipped) records the broker's end offset did not cover")
        }
        return after
    }

    /// Reads the records of `topic`[`partition`] from offset `from` until one at `until - 1` or later arrived or the
    /// partition's end was reached, then forgets the assignment; for a consumer that joined no group.
    /// - Returns: the records read (in offset order, from `from`, possibly past `until`) and the partition's low
    ///   watermark (the first offset the broker still has).
    /// - Throws: when the broker cannot be reached within `timeout` or the partition does not exist.
    public func readRange(topic: String, partition: Int32, from: Int64, until: Int64,
                          timeout: Duration = .seconds(10)) throws -> (records: [KafkaRecord], low: Int64) {
        try ensureOpen()
        let deadline = ContinuousClock.now + timeout
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle.pointer, topic, partition, &low, &high,
                                                   max(1, (deadline - .now).kafkaMilliseconds))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, context: "cannot read the watermarks of \(topic)[\(partition)]")
        }
        let start = max(from, low)
        guard start < until else { return ([], low) }
        let list = Self.partitionList([(topic, partition, start)])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let assigned = rd_kafka_assign(handle.pointer, list)
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(assigned, context: "cannot assign \(topic)[\(partition)]") }
        defer { rd_kafka_assign(handle.pointer, nil) }
        var records: [KafkaRecord] = []
        while ContinuousClock.now < deadline {
            guard let message = rd_kafka_consumer_poll(handle.pointer, min(100, (deadline - .now).kafkaMilliseconds)) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let code = message.pointee.err
            if code == RD_KAFKA_RESP_ERR__PARTITION_EOF { return (records, low) }
            if code == RD_KAFKA_RESP_ERR_NO_ERROR {
                guard message.pointee.offset >= start else { continue }
                records.append(KafkaRecord(copying: message))
                if message.pointee.offset >= until - 1 { return (records, low) }
            } else {
                try handleConsumerError(code, text: String(cString: rd_kafka_message_errstr(message)))
            }
        }
        throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, context: "reading \(topic)[\(partition)] from \(start) to \(until)")
    }

    /// Waits up to `timeout` for a first record, then adds what is already fetched, up to `maxRecords`.
    /// Partition EOF and transient errors are logged, not thrown; fatal ones (fatal client state,
    /// authorization or authentication failures) are thrown. Blocks: never call it from an event loop.
    public func poll(maxRecords: Int, timeout: Duration) throws -> [KafkaRecord] {
        try ensureOpen()
        let deadline = ContinuousClock.now + timeout
        var records: [KafkaRecord] = []
        records.reserveCapacity(min(maxRecords, 1024))
        while records.count < maxRecords {
            let wait = records.isEmpty ? (deadline - .now).kafkaMilliseconds : 0
            guard let message = rd_kafka_consumer_poll(handle.pointer, wait) else {
                if records.isEmpty && ContinuousClock.now < deadline { continue }
                break
            }
            defer { rd_kafka_message_destroy(message) }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                records.append(KafkaRecord(copying: message))
            } else if err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                try handleConsumerError(err, text: String(cString: rd_kafka_message_errstr(message)))
            }
        }
        return records
    }

    /// Synchronously commits, per topic-partition, the highest offset among `records` plus one.
    /// Call only after the records' work is durable.
    /// Moves each partition of `records` back to the earliest of their offsets, so the next polls deliver them
    /// again. For a batch whose work failed: the consumer keeps polling (and so keeps its group membership) without
    /// skipping anything. Partitions no longer assigned to this member are left alone.
    public func rewind(to records: [KafkaRecord]) throws {
        try ensureOpen()
        guard !records.isEmpty else { return }
        var first: [TopicPartition: Int64] = [:]
        for record in records {
            let key = TopicPartition(topic: record.topic, partition: record.partition)
            first[key] = min(first[key] ?? .max, record.offset)
        }
        let list = Self.partitionList(first.map { ($0.key.topic, $0.key.partition, $0.value) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_seek_partitions(handle.pointer, list, 5000) {
            let message = String(cString: rd_kafka_error_string(error))
            rd_kafka_error_destroy(error)
            throw KafkaError.invalid("rewinding the consumer failed: \(message)")
        }
    }

    /// With `async`, the commit is queued and this returns at once: commits of one consumer reach the broker in the
    /// order made, and one that fails only means its records may be delivered again (at-least-once).
    public func commit(_ records: [KafkaRecord], async: Bool = false) throws {
        try ensureOpen()
        guard !records.isEmpty else { return }
        guard groupID != nil else { throw KafkaError.invalid("commit needs a consumer group ID") }
        var next: [TopicPartition: Int64] = [:]
        for record in records {
            let key = TopicPartition(topic: record.topic, partition: record.partition)
            next[key] = max(next[key] ?? 0, record.offset + 1)
        }
        let list = Self.partitionList(next.map { ($0.key.topic, $0.key.partition, $0.value) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(handle.pointer, list, async ? 1 : 0)
        if async {
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "offset commit failed") }
            return
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "offset commit failed") }
        for element in UnsafeBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt))
        where element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(element.err,
                             context: "offset commit for \(String(cString: element.topic))[\(element.partition)] failed")
        }
    }

    /// Records waiting to be consumed, summed over this consumer's assigned partitions: the partition's high
    /// watermark (as last seen in a fetch, so no request is made) minus the consumer's position. Nil when nothing is
    /// assigned or no partition has both figures yet.
    public var lag: Int64? {
        guard (try? ensureOpen()) != nil else { return nil }
        var assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle.pointer, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment else { return nil }
        defer { rd_kafka_topic_partition_list_destroy(assignment) }
        guard rd_kafka_position(handle.pointer, assignment) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var total: Int64 = 0
        var known = false
        for element in UnsafeBufferPointer(start: assignment.pointee.elems, count: Int(assignment.pointee.cnt)) where element.offset >= 0 {
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_get_watermark_offsets(handle.pointer, element.topic, element.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            total += max(0, high - element.offset)
            known = true
        }
        return known ? total : nil
    }

    /// True once the group has assigned partitions to this member (seen during a poll) or after `assignFromEnd`.
    public var hasAssignment: Bool { handle.context.assigned.withLock { $0 } }

    /// Leaves the group (revoking its partitions) and closes. Idempotent; later calls to other methods throw.
    public func close() {
        let first = closed.withLock { wasClosed in
            defer { wasClosed = true }
            return !wasClosed
        }
        guard first else { return }
        let err = rd_kafka_consumer_close(handle.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka consumer close: \(String(cString: rd_kafka_err2str(err)))")
        }
        handle.context.assigned.withLock { $0 = false }
    }

    private func ensureOpen() throws {
        if closed.withLock({ $0 }) { throw KafkaError.closed("Kafka consumer") }
    }

    private func handleConsumerError(_ err: rd_kafka_resp_err_t, text: String) throws {
        if err == RD_KAFKA_RESP_ERR__FATAL {
            var buffer = [CChar](repeating: 0, count: 512)
            let original = rd_kafka_fatal_error(handle.pointer, &buffer, buffer.count)
            throw KafkaError(code: original.rawValue, message: "fatal Kafka consumer error: \(KafkaHandle.string(fromBuffer: buffer))",
                             isRetriable: false)
        }
        if Self.fatalCodes.contains(err.rawValue) {
            throw KafkaError(code: err.rawValue, message: "Kafka consumer error: \(text)", isRetriable: false)
        }
        logger.warning("Kafka consumer error (continuing): \(text)",
                       metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
    }

    /// Errors waiting cannot fix: the consumer would otherwise spin without ever receiving records.
    private static let fatalCodes: Set<Int32> = Set([
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR__AUTHENTICATION,
        RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, RD_KAFKA_RESP_ERR__SSL,
    ].map(\.rawValue))

    private struct TopicPartition: Hashable {
        var topic: String
        var partition: Int32
    }

    /// A new list; the caller destroys it.
    private static func partitionList(
        _ entries: [(topic: String, partition: Int32, offset: Int64)]
    ) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(clamping: entries.count))!
        for entry in entries {
            rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition).pointee.offset = entry.offset
        }
        return list
    }

    /// Applies the group's decision (the callback must assign itself) and records whether anything is assigned.
    private static func rebalance(
        _ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ context: KafkaClientContext
    ) {
        let cooperative = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
        let assigning = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
        var failure: String?
        if cooperative {
            let error = assigning ? rd_kafka_incremental_assign(rk, partitions)
                                  : rd_kafka_incremental_unassign(rk, partitions)
            if let error { failure = KafkaError(consuming: error).message }
        } else {
            let result = rd_kafka_assign(rk, assigning ? partitions : nil)
            if result != RD_KAFKA_RESP_ERR_NO_ERROR { failure = String(cString: rd_kafka_err2str(result)) }
        }
        if !assigning && err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
            context.logger.warning("Kafka rebalance error: \(String(cString: rd_kafka_err2str(err)))")
        }
        if let failure { context.logger.error("Kafka rebalance: cannot apply assignment: \(failure)") }

        var current: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        var count: Int32 = 0
        if rd_kafka_assignment(rk, &current) == RD_KAFKA_RESP_ERR_NO_ERROR, let current {
            count = current.pointee.cnt
            rd_kafka_topic_partition_list_destroy(current)
        }
        context.assigned.withLock { $0 = count > 0 }
        context.logger.debug("Kafka rebalance: \(count) partitions assigned",
                             metadata: ["kafka.rebalance": "\(assigning ? "assign" : "revoke")"])
    }
}
