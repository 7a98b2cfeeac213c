import ChannelProtocol
import Foundation
import Logging
import Shared

/// Routes one batch of downstream records: stores each message in its device's mailbox, then tells the edge holding
/// the device (if any) through that edge's inbox.
///
/// Guarantees: `route` returns only when every mailbox write and inbox notice is durable, so the caller can
/// commit the batch (at-least-once). The mailbox is written before the route is read, and an edge reads the mailbox
/// only after it claimed the route, so a device connecting at any moment either gets the notice or finds the message
/// when it drains: nothing falls between. The mailbox is idempotent by message id, so a batch routed twice stores
/// nothing twice. Order per device is kept: records are stored and noticed in batch order.
final class DownstreamRouter: @unchecked Sendable {
    struct Outcome: Equatable {
        var stored = 0
        var duplicates = 0
        var noticed = 0
        var offline = 0
        var expired = 0
        var rejected = 0
        var invalid = 0
    }

    private let config: RouterConfig
    private let registry: DeviceRegistry
    private let mailbox: Mailbox
    private let producer: KafkaProducer
    private let logger: Logger

    init(config: RouterConfig, registry: DeviceRegistry, mailbox: Mailbox, producer: KafkaProducer, logger: Logger) {
        self.config = config
        self.registry = registry
        self.mailbox = mailbox
        self.producer = producer
        self.logger = logger
    }

    /// The mailbox entry for a downstream record, or nil when it breaks the contract.
    func entry(for record: KafkaRecord, nowMs: Int64) -> (device: String, entry: MailboxEntry)? {
        guard let key = record.key, case let device = String(decoding: key, as: UTF8.self), FieldRules.isDeviceID(device),
              let service = record.headerString(RecordHeader.service), FieldRules.isServiceName(service) else {
            return nil
        }
        let id = record.headerString(RecordHeader.messageID) ?? "\(record.partition)-\(record.offset)"
        guard (try? FieldRules.checkMessageID(id)) != nil else { return nil }
        let requested = record.headerString(RecordHeader.ttl).flatMap(Int64.init) ?? config.defaultTTLSeconds
        let ttl = max(0, min(requested, config.maxTTLSeconds))
        // The record's own timestamp anchors the expiry, so routing it again later does not extend its life.
        let expiresAt = (record.timestampMs ?? nowMs) + ttl * 1000
        let contentType = record.headerString(RecordHeader.contentType)
            ?? (JSONScanner.isValidValue(record.value) ? ContentType.json : ContentType.binary)
        return (device, MailboxEntry(seq: 0, id: id, service: service, contentType: contentType,
                                     expiresAtMs: expiresAt, payload: record.value))
    }

    /// Routes `records`; throws if anything failed, in which case none of the batch may be committed.
    func route(_ records: [KafkaRecord]) throws -> Outcome {
        var outcome = Outcome()
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var items: [(device: String, entry: MailboxEntry)] = []
        for record in records {
            guard let item = entry(for: record, nowMs: nowMs) else {
                outcome.invalid += 1
                logger.warning("dropping \(record.topic)/\(record.partition)@\(record.offset): needs a device key, a service header and a valid id (docs/kafka-contract.md)")
                continue
            }
            items.append(item)
        }
        let results = try mailbox.storeBlocking(items)
        var toNotice: [(device: String, entry: MailboxEntry)] = []
        var notices: [OutgoingRecord] = []
        var reports: [OutgoingRecord] = []
        for (item, result) in zip(items, results) {
            var entry = item.entry
            switch result {
            case .stored(let seq):
                outcome.stored += 1
                entry.seq = seq
                toNotice.append((item.device, entry))
            case .duplicate(let seq):
                // Stored by an earlier attempt whose notice may not have gone out: notice again; edges skip repeats.
                outcome.duplicates += 1
                entry.seq = seq
                toNotice.append((item.device, entry))
            case .expired:
                outcome.expired += 1
                reports.append(Report.record(topics: config.topics, device: item.device, entry: entry, reason: .expired))
            case .full:
                outcome.rejected += 1
                logger.warning("mailbox of \(item.device) is full; message \(entry.id) from \(entry.service) rejected")
                reports.append(Report.record(topics: config.topics, device: item.device, entry: entry, reason: .mailboxFull))
            }
        }
        let lookups = try registry.lookupBlocking(devices: toNotice.map(\.device))
        for (item, lookup) in zip(toNotice, lookups) {
            switch lookup {
            case .online(let route):
                outcome.noticed += 1
                notices.append(InboxRecord.notice(device: item.device, entry: item.entry).outgoing(topics: config.topics, edge: route.edge))
            case .noRoute, .edgeDead:
                outcome.offline += 1
                logger.debug("device \(item.device) is offline (\(lookup)); message \(item.entry.id) waits in its mailbox")
            }
        }
        // Reports are best effort (docs/guarantees.md): one that cannot be produced must not hold up deliveries.
        let produced = producer.sendAllBlocking(notices + reports)
        for result in produced.prefix(notices.count) {
            if case .failure(let error) = result { throw error }
        }
        let lostReports = produced.dropFirst(notices.count).filter { if case .failure = $0 { true } else { false } }.count
        if lostReports > 0 { logger.warning("\(lostReports) reports could not be produced (does \(config.topics.prefix).report.<service> exist?)") }
        return outcome
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
    }
}
