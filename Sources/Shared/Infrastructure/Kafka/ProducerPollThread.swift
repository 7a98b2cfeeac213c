internal import CRdKafka
import Foundation
import Lifecycle

/// The producer's one ``DedicatedThread``: it serves delivery reports (and error and log events) with a blocking
/// `rd_kafka_poll`, and on stop flushes, purges what is left, and fails any callback still waiting.
///
/// Guarantees that once ``waitUntilFinished()`` or ``finished()`` returns, every registered delivery callback has run
/// exactly once. It holds the handle, not the producer, so a delivery callback may drop the last reference to the
/// producer.
final class ProducerPollThread: Sendable {
    private let handle: KafkaHandle
    /// When the flush on stop gives up; set by the stop request (the producer's ``ProducerState`` sends only one).
    private let stopDeadline = Locked<ContinuousClock.Instant?>(nil)
    private let thread: DedicatedThread

    init(handle: KafkaHandle) {
        self.handle = handle
        let deadline = stopDeadline
        thread = DedicatedThread(name: "kafka-producer-poll", stopLimit: .seconds(60)) { thread in
            let rk = handle.pointer
            // 100 ms bounds how late a stop request is noticed; reports still arrive as soon as they are ready.
            while !thread.isStopRequested { rd_kafka_poll(rk, 100) }
            Self.drain(handle, until: deadline.withLock { $0 } ?? .now)
        }
        thread.start()
    }

    /// Asks the thread to stop: it flushes until `deadline`, then purges.
    func requestStop(flushUntil deadline: ContinuousClock.Instant) {
        stopDeadline.withLock { $0 = deadline }
        thread.requestStop()
    }

    /// Whether the caller is this poll thread (for example inside a delivery callback), which must not wait for itself.
    var isCurrentThread: Bool { thread.isCurrent }

    /// Blocks until the flush and purge are done. Never from the poll thread.
    func waitUntilFinished() {
        while !thread.join(timeout: .seconds(3600)) {}
    }

    /// Resumes once the flush and purge are done, without blocking a thread.
    func finished() async {
        while !(await thread.finished(within: .seconds(3600))) {}
    }

    private static func drain(_ handle: KafkaHandle, until deadline: ContinuousClock.Instant) {
        let rk = handle.pointer
        let logger = handle.context.logger
        // rd_kafka_flush serves delivery reports on this thread, as the producer promises.
        if rd_kafka_flush(rk, (deadline - .now).kafkaMilliseconds) != RD_KAFKA_RESP_ERR_NO_ERROR {
            let left = rd_kafka_outq_len(rk)
            logger.warning("Kafka producer shutdown: \(left) messages not delivered in time; purging them")
            rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            // Purged messages get failed delivery reports, served by polling.
            let purgeDeadline = ContinuousClock.now + .milliseconds(500)
            while handle.context.deliveries.count > 0 && ContinuousClock.now < purgeDeadline {
                rd_kafka_poll(rk, 50)
            }
        }
        let stranded = handle.context.deliveries.takeAll()
        let error = KafkaError(code: RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue,
                               message: "Kafka producer shut down before delivery", isRetriable: true)
        for waiting in stranded { waiting.complete(.failure(error)) }
    }
}
