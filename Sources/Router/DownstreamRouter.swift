import Foundation
import Infrastructure
import Logging
import NIOCore
import Shared

/// Routes one batch of downstream records: stores each message in its device's mailbox and learns the device's route
/// in the same script call, then hands a notice to the edge holding the device (docs/handoff.md).
///
/// Guarantees: ``store(_:)`` returns once every message is in its mailbox; ``handOff(_:)``'s future succeeds once
/// every notice has been acked by its edge or given up, and every report acknowledged by the broker or failed, so
/// the caller may then commit the batch (at-least-once). The mailbox is written before the route is read (one atomic
/// script), and an edge reads the mailbox only after it claimed the route, so a device connecting at any moment
/// either gets the notice or finds the message when it drains: nothing falls between. The mailbox is idempotent by
/// message id, so a batch routed twice stores nothing twice. Order per device is kept: records are stored in batch
/// order, and an edge delivers a notice at once only when it is the next seq (otherwise it reads the mailbox).
final class DownstreamRouter: @unchecked Sendable {
    struct Outcome: Equatable {
        var stored = 0
        var duplicates = 0
        var noticed = 0
        var offline = 0
        var expired = 0
        var rejected = 0
        var invalid = 0
        /// Notices not acked by their edge in time: those messages wait in the mailboxes.
        var abandoned = 0
    }

    /// A stored batch: what to hand to which edge, and what to report.
    struct Stored {
        var outcome = Outcome()
        var notices: [String: (record: EdgeRecord, notices: [HandoffNotice])] = [:]
        var reports: [OutgoingRecord] = []
    }

    private let config: RouterConfig
    private let mailbox: any MailboxStore
    private let edges: any EdgeRecords
    private let handoff: any NoticeSender
    private let producer: any RecordPublisher
    /// Where the hand-off's futures are joined: the hand-off client's own loop, so that joining adds no hop.
    private let eventLoop: any EventLoop
    private let logger: Logger

    init(config: RouterConfig, mailbox: any MailboxStore, edges: any EdgeRecords, handoff: any NoticeSender,
         producer: any RecordPublisher, eventLoop: any EventLoop, logger: Logger) {
        self.config = config
        self.mailbox = mailbox
        self.edges = edges
        self.handoff = handoff
        self.producer = producer
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// The mailbox entry for a downstream record, or nil when it breaks the contract (``DownstreamRecord``). Its ttl
    /// is the router's default when the record has none, at most the router's maximum, and 0 or less means expired.
    func entry(for record: KafkaRecord, nowMs: Int64) -> (device: String, entry: MailboxEntry)? {
        guard let message = DownstreamRecord(record: record) else { return nil }
        let ttl = max(0, min(message.ttlSeconds ?? config.defaultTTLSeconds, config.maxTTLSeconds))
        // The record's own timestamp anchors the expiry, so routing it again later does not extend its life.
        // Saturating: a producer may set any timestamp, and a record that traps here would stop every router that
        // takes its partition (the mailbox caps expiries at MailboxEntry.maxExpiresAtMs anyway).
        let (sum, overflow) = (record.timestampMs ?? nowMs).addingReportingOverflow(ttl * 1000)
        let expiresAt = overflow ? Int64.max : sum  // ttl is never negative here
        return (message.device, MailboxEntry(seq: 0, id: message.id, service: message.service,
                                             contentType: message.contentType, expiresAtMs: expiresAt,
                                             payload: message.payload, receipt: message.receipt))
    }

    /// Stores `records` in their mailboxes (one Redis round trip, plus one for edge records not known yet) and says
    /// what to hand to whom. Throws if any store failed: then nothing of the batch may be committed. Blocks: for the
    /// router's lane threads.
    func store(_ records: [KafkaRecord]) throws -> Stored {
        var stored = Stored()
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var items: [(device: String, entry: MailboxEntry)] = []
        items.reserveCapacity(records.count)
        for record in records {
            guard let item = entry(for: record, nowMs: nowMs) else {
                stored.outcome.invalid += 1
                logger.warning("dropping \(record.topic)/\(record.partition)@\(record.offset): needs a device key, a service header and a valid id (docs/kafka-contract.md)")
                continue
            }
            items.append(item)
        }
        let results = try mailbox.storeAndRouteBlocking(items, timeout: .seconds(5))
        var toHand: [(device: String, route: DeviceRoute, entry: MailboxEntry)] = []
        for (item, result) in zip(items, results) {
            var entry = item.entry
            switch result.result {
            case .stored(let seq):
                stored.outcome.stored += 1
                entry.seq = seq
            case .duplicate(let seq):
                // Stored by an earlier attempt whose notice may not have gone out: notice again; edges skip repeats.
                stored.outcome.duplicates += 1
                entry.seq = seq
            case .expired:
                stored.outcome.expired += 1
                stored.reports.append(ReportRecord(device: item.device, entry: entry, reason: .expired).record(topics: config.topics))
                continue
            case .full:
                stored.outcome.rejected += 1
                logger.warning("mailbox of \(item.device) is full; message \(entry.id) from \(entry.service) rejected")
                stored.reports.append(ReportRecord(device: item.device, entry: entry, reason: .mailboxFull).record(topics: config.topics))
                continue
            }
            guard let route = result.route else {
                stored.outcome.offline += 1
                continue
            }
            toHand.append((item.device, route, entry))
        }
        let records = try edges.recordsBlocking(Set(toHand.map(\.route.edge)))
        for (device, route, entry) in toHand {
            guard let record = records[route.edge] else {
                stored.outcome.offline += 1
                logger.debug("device \(device) is on dead edge \(route.edge); message \(entry.id) waits in its mailbox")
                continue
            }
            stored.outcome.noticed += 1
            stored.notices[route.edge, default: (record, [])].notices.append(
                .message(device: device, session: route.session, entry: entry))
        }
        return stored
    }

    /// Hands the stored batch's notices to their edges and produces its reports; the future (it never fails) gives the
    /// outcome once every notice is acked or given up and every report acknowledged or failed. Reports are best effort
    /// (docs/guarantees.md): one that cannot be produced is logged and holds up nothing after that. Messages that asked
    /// for a receipt are marked `delivered` once their edge acked the notices (one pipeline per edge's batch) and, when
    /// that moved the receipt, reported `delivered`; the others cost nothing here.
    func handOff(_ stored: Stored) -> EventLoopFuture<Outcome> {
        let reported = stored.reports.map(report)
        let handed = stored.notices.map { edge, hand in
            handoff.send(hand.notices, to: edge, at: hand.record).flatMap { outcome -> EventLoopFuture<Int> in
                guard outcome == .handedOff else { return self.eventLoop.makeSucceededFuture(hand.notices.count) }
                return self.recordDelivered(hand.notices, edge: edge).map { 0 }
            }
        }
        let logger = self.logger, prefix = config.topics.prefix
        return EventLoopFuture.whenAllSucceed(handed, on: eventLoop)
            .and(EventLoopFuture.whenAllSucceed(reported, on: eventLoop))
            .map { abandoned, reports in
                var outcome = stored.outcome
                let given = abandoned.reduce(0, +)
                outcome.abandoned += given
                outcome.noticed -= given
                let lost = reports.filter { !$0 }.count
                if lost > 0 { logger.warning("\(lost) reports could not be produced (does \(prefix).report.<service> exist?)") }
                return outcome
            }
    }
}

extension DownstreamRouter {
    /// Produces one report; the future says whether the broker took it, and never fails.
    private func report(_ record: OutgoingRecord) -> EventLoopFuture<Bool> {
        do {
            return try producer.send(record, on: eventLoop).map { _ in true }.recover { _ in false }
        } catch {
            return eventLoop.makeSucceededFuture(false)
        }
    }

    /// Marks the receipts among `notices` delivered by `edge` and reports those it moved; nothing for notices without
    /// a receipt. The future never fails; a failed write or report is logged.
    private func recordDelivered(_ notices: [HandoffNotice], edge: String) -> EventLoopFuture<Void> {
        let asked: [(device: String, entry: MailboxEntry)] = notices.compactMap {
            guard case .message(let device, _, let entry) = $0, entry.receipt else { return nil }
            return (device, entry)
        }
        guard !asked.isEmpty else { return eventLoop.makeSucceededFuture(()) }
        let topics = config.topics, logger = self.logger
        return mailbox.markDelivered(asked.map { ($0.device, $0.entry.id) }, edge: edge, on: eventLoop)
            .flatMap { moved in
                let reports = zip(asked, moved).filter(\.1).map {
                    self.report(ReportRecord(device: $0.0.device, entry: $0.0.entry, reason: .delivered).record(topics: topics))
                }
                return EventLoopFuture.whenAllSucceed(reports, on: self.eventLoop).map { results in
                    let lost = results.filter { !$0 }.count
                    if lost > 0 { logger.warning("\(lost) delivered reports could not be produced") }
                }
            }
    }
}

extension DownstreamRouter.Outcome {
    mutating func add(_ other: Self) {
        stored += other.stored
        duplicates += other.duplicates
        noticed += other.noticed
        offline += other.offline
        expired += other.expired
        rejected += other.rejected
        invalid += other.invalid
        abandoned += other.abandoned
    }
}
