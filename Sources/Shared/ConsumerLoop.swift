import Foundation
import Logging

/// Runs a Kafka consumer on its own thread: poll a batch, hand it to `handle`, repeat until stopped.
///
/// The handler runs on that thread and may block (on Redis, on delivery reports): that is what the thread is for,
/// and it keeps blocking work off event loops and the concurrency pool. The handler decides what to commit, so
/// at-least-once is the handler's to keep: commit only what is durable. A thrown error is logged and the loop waits
/// a moment before polling again, so a broker outage slows the loop down rather than spinning it.
public final class ConsumerLoop: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let name: String
    private let logger: Logger
    private let maxRecords: Int
    private let handle: ([KafkaRecord]) throws -> Void
    private let stopped = NSCondition()
    private var stopRequested = false
    private var finished = false

    /// - Parameters:
    ///   - handle: called on the loop's thread with each non-empty batch, in partition order.
    public init(name: String, consumer: KafkaConsumer, maxRecords: Int = 500, logger: Logger,
                handle: @escaping ([KafkaRecord]) throws -> Void) {
        self.name = name
        self.consumer = consumer
        self.maxRecords = maxRecords
        self.logger = logger
        self.handle = handle
    }

    /// Starts the thread.
    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    private var shouldStop: Bool { stopped.withLock { stopRequested } }

    private func run() {
        while !shouldStop {
            do {
                let batch = try consumer.poll(maxRecords: maxRecords, timeout: .milliseconds(100))
                if !batch.isEmpty { try handle(batch) }
            } catch {
                logger.warning("\(name): \(error)")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        stopped.withLock {
            finished = true
            stopped.broadcast()
        }
    }

    /// Asks the loop to stop after the batch in hand and waits until it has (at most `timeout`).
    public func stop(timeout: Duration = .seconds(10)) {
        stopped.lock()
        defer { stopped.unlock() }
        stopRequested = true
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds))
        while !finished { if !stopped.wait(until: deadline) { break } }
    }
}
