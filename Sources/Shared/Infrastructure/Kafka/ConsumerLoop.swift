import Foundation
import Lifecycle
import Logging
import ServiceLifecycle

/// Runs a Kafka consumer on its own ``DedicatedThread``: poll a batch, hand it to `handle`, repeat until stopped, then
/// close the consumer.
///
/// The handler runs on that thread and may block (on Redis, on delivery reports): that is what the thread is for,
/// and it keeps blocking work off event loops and the concurrency pool. The handler decides what to commit, so
/// at-least-once is the handler's to keep: commit only what is durable. A thrown error is logged and the loop waits
/// a moment before polling again, so a broker outage slows the loop down rather than spinning it.
///
/// Guarantees: the consumer is closed (leaving its group) by the loop's own thread once the batch in hand is done, so
/// it is never closed while still in use, however long the stop takes. As a `Service` it stops with the group and
/// waits for that close at most `stopLimit`.
public final class ConsumerLoop: Service, Sendable {
    private let thread: DedicatedThread

    /// - Parameters:
    ///   - handle: called on the loop's thread with each non-empty batch, in partition order.
    public init(name: String, consumer: KafkaConsumer, maxRecords: Int = 500, stopLimit: Duration = .seconds(10),
                logger: Logger, handle: @escaping @Sendable ([KafkaRecord]) throws -> Void) {
        thread = DedicatedThread(name: name, stopLimit: stopLimit, logger: logger) { thread in
            while !thread.isStopRequested {
                do {
                    let batch = try consumer.poll(maxRecords: maxRecords, timeout: .milliseconds(100))
                    if !batch.isEmpty { try handle(batch) }
                } catch {
                    logger.warning("\(name): \(error)")
                    thread.pause(for: .milliseconds(500))
                }
            }
            consumer.close()
        }
    }

    /// Starts polling; later calls do nothing.
    public func start() { thread.start() }

    public func run() async throws { try await thread.run() }
}
