import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Shared

/// Device acks waiting to be deleted from their mailboxes: collected from every connection of the edge and deleted
/// in one Redis pipeline once `batch` have come or the oldest has waited `delay`, by one loop that runs as a `Service`.
///
/// A delete that fails is logged and not retried: the message then comes back on the device's next connection, and
/// the device drops it by id (docs/guarantees.md). On the group's graceful shutdown the loop deletes what is still
/// waiting, then ends. Acks of messages that asked for a receipt mark it `acked` in the same script call, and those it
/// moved are reported `acked` to their service (best effort, as every report).
final class MailboxAcks: Service, Sendable {
    private let mailbox: Mailbox
    /// Where `acked` reports go, and the loop their futures complete on; nil: none are produced.
    private let reports: (publisher: any RecordPublisher, eventLoop: any EventLoop)?
    private let topics: Topics
    private let batch: Int
    private let delay: Duration
    private let logger: Logger
    private let waiting = NIOLockedValueBox<[(device: String, id: String)]>([])
    /// One wake-up stands for any number: the loop takes everything waiting when it wakes.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(mailbox: Mailbox, reports: (publisher: any RecordPublisher, eventLoop: any EventLoop)?, topics: Topics, batch: Int, delay: Duration, logger: Logger) {
        self.mailbox = mailbox
        self.reports = reports
        self.topics = topics
        self.batch = max(1, batch)
        self.delay = delay
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Safe from any thread, an event loop included; never blocks.
    func add(device: String, id: String) {
        let (first, full) = waiting.withLockedValue { waiting in
            waiting.append((device, id))
            return (waiting.count == 1, waiting.count == batch)
        }
        if first || full { wake.yield() }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                if waiting.withLockedValue({ $0.count }) < batch { try? await Task.sleep(for: delay) }
                await deleteWaiting()
            }
            await deleteWaiting()
        } onGracefulShutdown: { [wake] in
            wake.finish()
        }
    }

    private func deleteWaiting() async {
        let acks = waiting.withLockedValue { waiting -> [(device: String, id: String)] in defer { waiting = [] }; return waiting }
        guard !acks.isEmpty else { return }
        let acked: [(device: String, entry: MailboxEntry)]
        do { acked = try await mailbox.ackReceipts(acks).acked } catch {
            logger.warning("cannot delete \(acks.count) acked messages from their mailboxes: \(error)")
            return
        }
        guard let reports, !acked.isEmpty else { return }
        // Not awaited: the next batch of deletes must not wait for the broker. A device that reconnects elsewhere
        // meanwhile would be sent again what it acked.
        let logger = logger
        for (device, entry) in acked {
            let record = ReportRecord(device: device, entry: entry, reason: .acked).record(topics: topics)
            guard let delivery = try? reports.publisher.send(record, on: reports.eventLoop) else {
                logger.warning("an acked report of \(entry.id) could not be produced")
                continue
            }
            delivery.whenFailure { error in logger.warning("an acked report of \(entry.id) could not be produced: \(error)") }
        }
    }
}
