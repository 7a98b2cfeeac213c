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
    /// The current librdkafka producer, and those it replaced; held while enqueueing, so no message can slip in after
    /// the final flush.
    private let state: Locked<ProducerState<ProducerGeneration>>
    private let logger: Logger

    /// How long a producer whose deliveries a consumer's thread waits for may keep trying (`message.timeout.ms`): well
    /// under the consumers' `max.poll.interval.ms` (``KafkaConsumer/maxPollInterval``), so that a consumer waiting out
    /// a broker outage stays in its group. Every such producer uses it, and its users check that it does
    /// (``requireFitsInsideConsumer(_:)``).
    public static let timeoutInsideConsumer: Duration = .seconds(5)

    /// Makes a generation: its number, and what to call when it fails for good.
    typealias MakeGeneration = @Sendable (_ number: Int, _ onFatal: @escaping @Sendable (String) -> Void) throws -> ProducerGeneration

    private let makeGeneration: MakeGeneration
    /// `message.timeout.ms` as the first generation was configured (`messageTimeout`, or what `config` set).
    public let messageTimeout: Duration

    /// Defaults: `enable.idempotence=true`, `acks=all`, `compression.type=lz4`, `linger.ms=2`, `message.timeout.ms`
    /// from `messageTimeout`, then `config.properties`. Checks the librdkafka version and starts the poll thread.
    ///
    /// When its librdkafka producer fails for good (a fatal error, or a broker fencing the idempotent producer after its
    /// messages timed out: Tansu does, answering PRODUCER_FENCED to every later record), the producer replaces it with
    /// a new one: what was in flight on the old one fails (callers may send it again), later sends go to the new one.
    /// Until the new one is made, ``health`` names the failure: a component is unready meanwhile.
    /// - Parameter messageTimeout: how long librdkafka keeps trying to deliver a record before it reports a failure,
    ///   unless `config` sets `message.timeout.ms` itself. Every component chooses it deliberately: librdkafka's own
    ///   default (5 minutes) outlives any consumer's poll interval and any caller's patience. A producer whose
    ///   deliveries a consumer's thread waits for uses ``timeoutInsideConsumer``.
    public convenience init(config: KafkaConfig, messageTimeout: Duration, logger: Logger) throws {
        let defaults: KeyValuePairs<String, String> = [
            "enable.idempotence": "true", "acks": "all", "compression.type": "lz4", "linger.ms": "2",
            "message.timeout.ms": String(messageTimeout.inMilliseconds),
        ]
        try self.init(logger: logger) { number, onFatal in
            try ProducerGeneration(number: number, config: config, defaults: defaults, logger: logger, onFatal: onFatal)
        }
    }

    /// A producer whose generations `makeGeneration` makes (tests make replacements fail with it).
    init(logger: Logger, makeGeneration: @escaping MakeGeneration) throws {
        let replacement = Locked<(@Sendable (String) -> Void)?>(nil)
        let first = try makeGeneration(1) { reason in replacement.withLock { $0 }?(reason) }
        self.makeGeneration = makeGeneration
        self.logger = logger
        messageTimeout = .milliseconds(Int64(first.handle.property("message.timeout.ms") ?? "") ?? 300_000)
        state = Locked(ProducerState(first: first))
        replacement.withLock { $0 = { [weak self] reason in self?.replace(after: 1, because: reason) } }
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
        try enqueue(record, for: .callback(onDelivery))
    }

    /// Enqueues `record` without waiting; the future, on `eventLoop`, succeeds with the broker's acknowledgement or fails
    /// with the delivery's ``KafkaError``. Throws at once, with nothing enqueued, if the producer is shut down, the topic
    /// name is invalid, or librdkafka refuses the record (for example `_QUEUE_FULL`, which is retriable).
    public func send(_ record: OutgoingRecord, on eventLoop: any EventLoop) throws -> EventLoopFuture<KafkaDelivery> {
        let promise = eventLoop.makePromise(of: KafkaDelivery.self)
        do {
            try enqueue(record, for: .promise(promise))
        } catch {
            promise.fail(error)  // never seen by anyone: the caller gets the throw
            throw error
        }
        return promise.futureResult
    }

    /// Registers `waiting` for the record's delivery report and enqueues the record on the current generation; throws,
    /// with `waiting` forgotten, if it was not enqueued.
    private func enqueue(_ record: OutgoingRecord, for waiting: DeliveryRegistry.Waiting) throws {
        try Self.validate(topic: record.topic)
        let refused: (KafkaError, generation: Int)? = try state.withLock { state in
            guard state.takesRecords else { throw KafkaError.closed("Kafka producer") }
            let generation = state.current
            let deliveries = generation.handle.context.deliveries
            let id = deliveries.register(waiting)
            guard let error = enqueue(record, id: id, on: generation.handle) else { return nil }
            _ = deliveries.take(id)
            return (error, generation.number)
        }
        guard let (error, generation) = refused else { return }
        // A failed producer whose replacement could not be made earlier: try again.
        if ProducerGeneration.isFatal(error) { replace(after: generation, because: error.message) }
        throw error
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
        for generation in state.withLock({ $0.all }) { await generation.pollThread.finished() }
    }

    /// ``shutdown(timeout:)`` for dedicated threads and start-up code, blocking the caller. Called from a delivery
    /// callback it only starts the shutdown, since a poll thread cannot wait for itself.
    public func shutdownBlocking(timeout: Duration = .seconds(10)) {
        close(deadline: .now + timeout)
        let generations = state.withLock { $0.all }
        guard !generations.contains(where: { $0.pollThread.isCurrentThread }) else { return }
        for generation in generations { generation.pollThread.waitUntilFinished() }
    }

    /// As a `Service`: waits for the group's graceful shutdown, then ``shutdown(timeout:)``.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Refuses later sends and tells the current generation's poll thread to flush until `deadline` (replaced ones are
    /// stopping already).
    private func close(deadline: ContinuousClock.Instant) {
        let (flushUntil, current) = state.withLock { ($0.close(flushUntil: deadline), $0.current) }
        if let flushUntil { current.pollThread.requestStop(flushUntil: flushUntil) }
    }

    /// Replaces generation `failed` after librdkafka reported it failed for good (at most once per generation). Runs on
    /// the failed generation's poll thread or a sender's thread; creating a producer does not wait for the network.
    private func replace(after failed: Int, because reason: String) {
        guard let number = state.withLock({ $0.fatal(in: failed, because: reason) }) else { return }
        logger.error("Kafka producer failed for good (\(reason)); replacing it: records in flight on it fail and may be sent again")
        do {
            let replacement = try makeGeneration(number) { [weak self] reason in self?.replace(after: number, because: reason) }
            switch state.withLock({ $0.replaced(by: replacement) }) {
            case .retire(let old): old.pollThread.requestStop(flushUntil: .now)
            case .stopAtOnce: replacement.pollThread.requestStop(flushUntil: .now)
            }
        } catch {
            state.withLock { $0.replacementFailed("\(error)") }
            logger.error("cannot replace the failed Kafka producer; its sends fail until it can be: \(error)")
        }
    }

    /// Whether the producer can deliver now, and how often it was replaced: for readiness checks and metrics.
    public var health: KafkaProducerHealth {
        state.withLock { KafkaProducerHealth(failure: $0.failure, replacements: $0.replacements) }
    }

    /// ``health``, after trying once more to replace a failed generation whose replacement could not be made (a send
    /// that the failed generation refuses tries too, but a component may have nothing to send). For a readiness
    /// check's thread: making a producer does not wait for the network.
    public func checkHealth() -> KafkaProducerHealth {
        if let (generation, reason) = state.withLock({ $0.awaitingReplacement }) { replace(after: generation, because: reason) }
        return health
    }

    /// Throws unless this producer gives up on a record within ``timeoutInsideConsumer``: for a component whose
    /// consumer thread waits for its deliveries, at start-up, so that no configuration can push that consumer out of
    /// its group during a broker outage.
    /// - Parameter user: who waits, for the error's text.
    public func requireFitsInsideConsumer(_ user: String) throws {
        guard messageTimeout <= Self.timeoutInsideConsumer else {
            throw KafkaError.invalid("\(user): the producer's message.timeout.ms (\(messageTimeout.inMilliseconds) ms) must be at "
                                     + "most \(Self.timeoutInsideConsumer.inMilliseconds) ms, since a consumer waits for its deliveries "
                                     + "and must poll every \(KafkaConsumer.maxPollInterval.inMilliseconds) ms")
        }
    }

    /// Makes librdkafka report a fatal error on the current generation, as a broker fencing it would: for tests.
    func injectFatalError(_ reason: String) {
        state.withLock { $0.current }.injectFatalError(reason)
    }

    /// Calls rd_kafka_produceva; returns its error, if any. The caller holds `state`.
    private func enqueue(_ record: OutgoingRecord, id: UInt, on handle: KafkaHandle) -> KafkaError? {
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
