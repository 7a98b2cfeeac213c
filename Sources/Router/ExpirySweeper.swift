import Foundation
import Infrastructure
import Lifecycle
import Logging
import Shared

/// Takes expired messages out of every device's mailbox and reports each to its service, as ``RecurringWork``.
///
/// Every router runs one; the mailbox hands each expired entry to exactly one sweeper, so reports are not doubled.
/// An entry whose report cannot be produced is logged and counted as expired all the same: its time is up either way.
struct ExpirySweeper: Sendable {
    let topics: Topics
    let mailbox: Mailbox
    let producer: KafkaProducer
    let logger: Logger
    let counted: @Sendable (Int) -> Void

    /// The sweeps, every `interval`, on a thread of their own.
    func recurring(every interval: Duration) -> RecurringWork {
        RecurringWork(name: "expiry-sweeper", every: interval, logger: logger) { try sweep() }
    }

    /// Removes and reports what has expired, 500 entries at a time, until nothing is left.
    func sweep() throws {
        var swept: [(device: String, entry: MailboxEntry)]
        repeat {
            swept = try mailbox.sweepExpiredBlocking()
            guard !swept.isEmpty else { break }
            let reports = swept.map { ReportRecord(device: $0.device, entry: $0.entry, reason: .expired).record(topics: topics) }
            let failed = producer.sendAllBlocking(reports, within: .seconds(15)).filter { if case .failure = $0 { true } else { false } }
            if !failed.isEmpty { logger.warning("\(failed.count) expiry reports could not be produced") }
            counted(swept.count)
            logger.info("\(swept.count) expired messages removed from mailboxes and reported")
        } while swept.count >= 500
    }
}
