import Foundation
import Logging
import Shared

/// Takes expired messages out of every device's mailbox, on its own thread, and reports each to its service.
///
/// Every router runs one; the mailbox hands each expired entry to exactly one sweeper, so reports are not doubled.
/// An entry whose report cannot be produced is logged and counted as expired all the same: its time is up either way.
final class ExpirySweeper: @unchecked Sendable {
    private let topics: Topics
    private let mailbox: Mailbox
    private let producer: KafkaProducer
    private let interval: Double
    private let logger: Logger
    private let counted: @Sendable (Int) -> Void
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false

    init(topics: Topics, mailbox: Mailbox, producer: KafkaProducer, interval: Double, logger: Logger,
         counted: @escaping @Sendable (Int) -> Void) {
        self.topics = topics
        self.mailbox = mailbox
        self.producer = producer
        self.interval = interval
        self.logger = logger
        self.counted = counted
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "expiry-sweeper"
        thread.start()
    }

    private func run() {
        while !condition.withLock({ stopping }) {
            do {
                var swept: [(device: String, entry: MailboxEntry)]
                repeat {
                    swept = try mailbox.sweepExpiredBlocking()
                    guard !swept.isEmpty else { break }
                    let reports = swept.map { ReportRecord(device: $0.device, entry: $0.entry, reason: .expired).record(topics: topics) }
                    let failed = producer.sendAllBlocking(reports).filter { if case .failure = $0 { true } else { false } }
                    if !failed.isEmpty { logger.warning("\(failed.count) expiry reports could not be produced") }
                    counted(swept.count)
                    logger.info("\(swept.count) expired messages removed from mailboxes and reported")
                } while swept.count >= 500
            } catch {
                logger.warning("sweeping expired messages failed: \(error)")
            }
            condition.withLock { if !stopping { _ = condition.wait(until: Date().addingTimeInterval(interval)) } }
        }
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            while !stopped { condition.wait() }
        }
    }
}
