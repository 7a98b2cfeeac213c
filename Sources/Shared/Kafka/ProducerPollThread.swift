import CRdKafka
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The producer's one dedicated thread: it serves delivery reports (and error and log events) with a blocking
/// `rd_kafka_poll`, and on stop flushes, purges what is left, and fails any callback still waiting.
///
/// Guarantees that once ``waitUntilFinished()`` returns, every registered delivery callback has run exactly
/// once. It holds the handle, not the producer, so a delivery callback may drop the last reference to the producer.
final class ProducerPollThread: Sendable {
    private struct State {
        var stopDeadline: ContinuousClock.Instant?
        var threadID: UInt?
        var finished = false
    }

    private let handle: KafkaHandle
    private let state = KafkaLock(State())
    private let finished = NSCondition()

    init(handle: KafkaHandle) {
        self.handle = handle
        let thread = Thread { [self] in run() }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    /// Asks the thread to stop: it flushes until `deadline`, then purges. Only the first request counts.
    func requestStop(deadline: ContinuousClock.Instant) {
        state.withLock { if $0.stopDeadline == nil { $0.stopDeadline = deadline } }
    }

    /// Whether the caller is this poll thread (for example inside a delivery callback), which must not wait for itself.
    var isCurrentThread: Bool { state.withLock { $0.threadID == Self.currentThreadID() } }

    func waitUntilFinished() {
        finished.lock()
        while !state.withLock({ $0.finished }) { finished.wait() }
        finished.unlock()
    }

    private func run() {
        state.withLock { $0.threadID = Self.currentThreadID() }
        let rk = handle.pointer
        // 100 ms bounds how late a stop request is noticed; reports still arrive as soon as they are ready.
        while state.withLock({ $0.stopDeadline }) == nil {
            rd_kafka_poll(rk, 100)
        }
        drain(until: state.withLock { $0.stopDeadline } ?? .now)
        finished.lock()
        state.withLock { $0.finished = true }
        finished.broadcast()
        finished.unlock()
    }

    private func drain(until deadline: ContinuousClock.Instant) {
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
        for callback in stranded { callback(.failure(error)) }
    }

    private static func currentThreadID() -> UInt {
        #if canImport(Glibc)
        return UInt(pthread_self())
        #else
        return UInt(bitPattern: pthread_self())
        #endif
    }
}
