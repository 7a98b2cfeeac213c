import Logging
import NIOConcurrencyHelpers
import NIOCore
import Shared

/// Device acks waiting to be deleted from their mailboxes: collected from every connection of the edge and deleted
/// in one Redis pipeline once `batch` have come or the oldest has waited `delay`.
///
/// A delete that fails is logged and not retried: the message then comes back on the device's next connection, and
/// the device drops it by id (docs/guarantees.md).
final class MailboxAcks: Sendable {
    private let mailbox: Mailbox
    private let batch: Int
    private let delay: TimeAmount
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let waiting = NIOLockedValueBox<[(device: String, id: String)]>([])

    init(mailbox: Mailbox, batch: Int, delay: TimeAmount, eventLoop: any EventLoop, logger: Logger) {
        self.mailbox = mailbox
        self.batch = max(1, batch)
        self.delay = delay
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Safe from any thread; never blocks.
    func add(device: String, id: String) {
        let (first, full) = waiting.withLockedValue { waiting in
            waiting.append((device, id))
            return (waiting.count == 1, waiting.count >= batch)
        }
        if full {
            flush()
        } else if first {
            eventLoop.scheduleTask(in: delay) { self.flush() }
        }
    }

    /// Deletes what is waiting now.
    func flush() {
        let acks = waiting.withLockedValue { waiting -> [(device: String, id: String)] in defer { waiting = [] }; return waiting }
        guard !acks.isEmpty else { return }
        let logger = self.logger
        mailbox.ack(acks) { result in
            if case .failure(let error) = result {
                logger.warning("cannot delete \(acks.count) acked messages from their mailboxes: \(error)")
            }
        }
    }
}
