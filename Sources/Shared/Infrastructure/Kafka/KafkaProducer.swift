internal import CRdKafka
import Foundation
import Lifecycle
import Logging
import NIOCore
import ServiceLifecycle

/// A Kafka producer whose sends never block, so they can be called from an event loop.
///
/// Two families, as for ``RedisClient``:
/// - async: ``send(_:)`` for tasks, and ``send(_:on:)``, whose future an event loop can chain on without a task in
///   between (the poll thread completes it);
/// - blocking: ``sendAllBlocking(_:within:)``, for dedicated threads only.
///
/// Guarantees: every send that does not throw gets exactly one answer, the broker's delivery report or a failure
/// (timeout after `message.timeout.ms`, purge at shutdown). Idempotence is on by default, so retries inside
/// librdkafka neither duplicate nor reorder records of one partition.
public final class KafkaProducer: Service, Sendable {
    private let handle: KafkaHandle
    private let pollThread: ProducerPollThread
    /// Held while enqueueing, so no message can slip in after the final flush.
    private let state = KafkaLock(ProducerState())

    /// How long a producer whose deliveries a consumer's thread waits for may keep trying (`message.timeout.ms`): well
    /// under the consumers' `max.poll.interval.ms` (``KafkaConsumer/maxPollInterval``), so that a consumer waiting out
    /// a broker outage stays in its group.
    public static let timeoutInsideConsumer: Duration = .seconds(5)

    /// Defaults: `enable.idempotence=true`, `acks=all`, `compression.type=lz4`, `linger.ms=2`, `message.timeout.ms`
    /// from `messageTimeout`, then `config.properties`. Checks the librdkafka version and starts the poll thread.
    /// - Parameter messageTimeout: how long librdkafka keeps trying to deliver a record before it reports a failure,
    ///   unless `config` sets `message.timeout.ms` itself. Every component chooses it deliberately: librdkafka's own
    ///   default (5 minutes) outlives any consumer's poll interval and any caller's patience.
    public init(config: KafkaConfig, messageTimeout: Duration, logger: Logger) throws {
        handle = try KafkaHandle(
            type: RD_KAFKA_PRODUCER, role: .producer, config: config,
            defaults: ["enable.idempotence": "true", "acks": "all", "compression.type": "lz4", "linger.ms": "2",
                       "message.timeout.ms": String(messageTimeout.inMilliseconds)],
            logger: logger
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let opaque else { return }
                let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
                let m = message.pointee
                guard let callback = context.deliveries.take(UInt(bitPattern: m._private)) else { return }
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    callback(.success(KafkaDelivery(partition: m.partition, offset: m.offset)))
                } else {
                    let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
                    callback(.failure(KafkaError(m.err, context: "delivery to topic \(topic) failed")))
                }
            }
        }
        pollThread = ProducerPollThread(handle: handle)
    }

    deinit {
        // Without an explicit shutdown nothing waits: pending messages are purged and their callbacks fail.
        shutdownBlocking(timeout: .zero)
    }

    /// Enqueues `record` without waiting. `onDelivery` runs exactly once, on the poll thread, with the broker's
    /// answer. Throws, without calling `onDelivery`, if the producer is shut down, the topic name is invalid,
    /// or librdkafka refuses the record (for example `_QUEUE_FULL`, which is retriable). The plumbing under both
    /// families.
    func send(
        _ record: OutgoingRecord, onDelivery: @escaping @Sendable (Result<KafkaDelivery, KafkaError>) -> Void
    ) throws {
        try Self.validate(topic: record.topic)
        let deliveries = handle.context.deliveries
        try state.withLock { state in
            guard state.takesRecords else { throw KafkaError.closed("Kafka producer") }
            let id = deliveries.register(onDelivery)
            if let error = enqueue(record, id: id) {
                _ = deliveries.take(id)
                throw error
            }
        }
    }

    /// Enqueues `record` without waiting; the future, on `eventLoop`, succeeds with the broker's acknowledgement or fails
    /// with the delivery's ``KafkaError``. Throws at once, with nothing enqueued, if the producer is shut down, the topic
    /// name is invalid, or librdkafka refuses the record (for example `_QUEUE_FULL`, which is retriable).
    public func send(_ record: OutgoingRecord, on eventLoop: any EventLoop) throws -> EventLoopFuture<KafkaDelivery> {
        let promise = eventLoop.makePromise(of: KafkaDelivery.self)
        do {
            try send(record) { promise.completeWith($0.mapError { $0 }) }
        } catch {
            promise.fail(error)  // never seen by anyone: the caller gets the throw
            throw error
        }
        return promise.futureResult
    }

    /// Sends `record` and resumes when the broker has acknowledged it.
    public func send(_ record: OutgoingRecord) async throws -> KafkaDelivery {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<KafkaDelivery, any Error>) in
            do {
                try send(record) { result in continuation.resume(with: result.mapError { $0 }) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Waits until everything in flight is delivered or `timeout` passes (then purges the rest, failing their
    /// callbacks), and stops the poll thread, without blocking a thread. Later sends throw. Idempotent; concurrent
    /// callers all wait.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        close(deadline: .now + timeout)
        await pollThread.finished()
    }

    /// ``shutdown(timeout:)`` for dedicated threads and start-up code, blocking the caller. Called from a delivery
    /// callback it only starts the shutdown, since the poll thread cannot wait for itself.
    public func shutdownBlocking(timeout: Duration = .seconds(10)) {
        close(deadline: .now + timeout)
        if !pollThread.isCurrentThread { pollThread.waitUntilFinished() }
    }

    /// As a `Service`: waits for the group's graceful shutdown, then ``shutdown(timeout:)``.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Refuses later sends and tells the poll thread to flush until `deadline`.
    private func close(deadline: ContinuousClock.Instant) {
        if let flushUntil = state.withLock({ $0.close(flushUntil: deadline) }) {
            pollThread.requestStop(flushUntil: flushUntil)
        }
    }

    /// Calls rd_kafka_produceva; returns its error, if any. The caller holds `state`.
    private func enqueue(_ record: OutgoingRecord, id: UInt) -> KafkaError? {
        var headers: OpaquePointer?
        if !record.headers.isEmpty {
            headers = rd_kafka_headers_new(record.headers.count)
            for header in record.headers {
                let name = Array(header.name.utf8)
                let err = name.withUnsafeBufferPointer { namePtr in
                    header.value.withUnsafeBytes { valuePtr in
                        namePtr.withMemoryRebound(to: CChar.self) { cName in
                            rd_kafka_header_add(headers, cName.baseAddress, cName.count,
                                                valuePtr.baseAddress, valuePtr.count)
                        }
                    }
                }
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    rd_kafka_headers_destroy(headers)
                    return KafkaError(err, context: "invalid header \(header.name)")
                }
            }
        }
        // A present but empty key must stay distinguishable from no key, so it needs a non-NULL pointer.
        var emptyKeyByte: UInt8 = 0
        let error: OpaquePointer? = record.topic.withCString { topic in
            record.value.withUnsafeBytes { value in
                withUnsafeMutablePointer(to: &emptyKeyByte) { emptyKey in
                    Self.withKeyBytes(record.key, emptyKey: emptyKey) { key in
                        var args = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 4)
                        args[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        args[0].u.cstr = topic
                        args[1].vtype = RD_KAFKA_VTYPE_VALUE
                        args[1].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                        args[1].u.mem.size = value.count
                        args[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        args[2].u.i = RD_KAFKA_MSG_F_COPY  // copy: our buffers die with this call; never F_BLOCK
                        args[3].vtype = RD_KAFKA_VTYPE_OPAQUE
                        args[3].u.ptr = UnsafeMutableRawPointer(bitPattern: id)
                        if let key {
                            var arg = rd_kafka_vu_t()
                            arg.vtype = RD_KAFKA_VTYPE_KEY
                            arg.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                            arg.u.mem.size = key.count
                            args.append(arg)
                        }
                        if let headers {
                            var arg = rd_kafka_vu_t()
                            arg.vtype = RD_KAFKA_VTYPE_HEADERS
                            arg.u.headers = headers
                            args.append(arg)
                        }
                        return rd_kafka_produceva(handle.pointer, args, args.count)
                    }
                }
            }
        }
        guard let error else { return nil }  // librdkafka now owns the headers
        rd_kafka_headers_destroy(headers)
        return KafkaError(consuming: error, context: "cannot enqueue record for topic \(record.topic)")
    }

    private static func withKeyBytes<T>(
        _ key: [UInt8]?, emptyKey: UnsafeMutablePointer<UInt8>, _ body: (UnsafeRawBufferPointer?) -> T
    ) -> T {
        guard let key else { return body(nil) }
        if key.isEmpty { return body(UnsafeRawBufferPointer(start: emptyKey, count: 0)) }
        return key.withUnsafeBytes { body($0) }
    }

    /// Kafka's rule: 1...249 characters from [a-zA-Z0-9._-], not "." or "..". Checked here because librdkafka
    /// would accept the name and fail only later, in the delivery report.
    static func validate(topic: String) throws {
        let legal = topic.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
        guard legal, (1...249).contains(topic.utf8.count), topic != ".", topic != ".." else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION.rawValue,
                             message: "invalid Kafka topic name \"\(topic)\": use 1 to 249 characters from "
                                 + "a-z, A-Z, 0-9, '.', '_' and '-'",
                             isRetriable: false)
        }
    }
}
