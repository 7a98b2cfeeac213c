/// What a chaos run's ledger says about the gateway's promises (docs/guarantees.md), as counts and examples.
///
/// Guarantees of the check itself: every message the gateway took responsibility for is counted exactly once, as
/// delivered in time, delivered late, reported expired, or lost; an invariant is broken exactly when its count of
/// violations is above zero; each list of examples holds at most ``exampleLimit`` entries.
public struct ChaosVerdict: Sendable, Codable {
    public static let exampleLimit = 5
    /// How much later than its TTL a delivery may come and still count as in time: the TTL runs from the record's
    /// timestamp, which the harness knows only to within its own clock and the producer's linger.
    public static let ttlSlack = 2.0
    /// How long after losing its edge a device must be connected again, and after its last fault a component ready.
    public static let recoveryLimit = 30.0

    public struct Invariant: Sendable, Codable {
        public var name: String
        public var checked: Int
        public var violations: Int
        public var examples: [String]
        public var holds: Bool { violations == 0 }
    }

    public struct Recovery: Sendable, Codable {
        public var kind: String
        public var count: Int
        /// Seconds from the fault's end (restart or resume) until every component answered `/readyz` 200.
        public var p50: Double
        public var max: Double
        /// Faults after which some component was never ready again.
        public var neverRecovered: Int
    }

    public var invariants: [Invariant] = []
    public var recoveries: [Recovery] = []
    /// Headline counts: messages checked, lost, expired, duplicates.
    public var counts: [String: Int] = [:]
    public var holds: Bool { invariants.allSatisfy(\.holds) }

    public init(_ ledger: ChaosLedger) {
        checkUpstream(ledger)
        checkDownstream(ledger)
        checkTopics(ledger)
        checkReconnects(ledger)
        checkReadiness(ledger)
    }

    private mutating func add(_ name: String, checked: Int, violations: [String]) {
        invariants.append(Invariant(name: name, checked: checked, violations: violations.count,
                                    examples: Array(violations.prefix(Self.exampleLimit))))
    }

    // MARK: Device → service

    private mutating func checkUpstream(_ ledger: ChaosLedger) {
        var seen: [String: [ChaosLedger.ServiceRecord]] = [:]
        for record in ledger.reached { seen["\(record.service)|\(record.device)", default: []].append(record) }
        let reachedIDs = Set(ledger.reached.map { "\($0.service)|\($0.device)|\($0.id)" })
        let lost = ledger.acked.filter { !reachedIDs.contains("\($0.service)|\($0.device)|\($0.id)") }
        add("every acked device message reached its service", checked: ledger.acked.count,
            violations: lost.map { "\($0.device) → \($0.service): \($0.id), acked at \(format($0.at)) s, never on the topic" })
        counts["upstream_acked"] = ledger.acked.count
        counts["upstream_lost"] = lost.count

        var disorder: [String] = []
        var foreign: [String] = []
        var repeats = 0
        var firstArrivals = 0
        for (key, records) in seen.sorted(by: { $0.key < $1.key }) {
            var firstSeen: [String: Int] = [:]
            var idOfSeq: [Int: String] = [:]
            var last = Int.min
            for record in records {
                if let other = idOfSeq[record.seq], other != record.id {
                    foreign.append("\(key): content #\(record.seq) under ids \(other) and \(record.id)")
                }
                idOfSeq[record.seq] = record.id
                guard firstSeen[record.id] == nil else {
                    repeats += 1
                    continue
                }
                firstSeen[record.id] = record.seq
                firstArrivals += 1
                if record.seq < last { disorder.append("\(key): #\(record.seq) after #\(last)") }
                last = max(last, record.seq)
            }
        }
        add("order per device and service, device → service", checked: firstArrivals, violations: disorder)
        add("a device message repeated only under its own id (device → service)", checked: ledger.reached.count, violations: foreign)
        counts["upstream_repeats_same_id"] = repeats
    }

    // MARK: Service → device

    private mutating func checkDownstream(_ ledger: ChaosLedger) {
        var firstReceipt: [String: ChaosLedger.Receipt] = [:]
        for receipt in ledger.receipts where firstReceipt["\(receipt.device)|\(receipt.id)"] == nil {
            firstReceipt["\(receipt.device)|\(receipt.id)"] = receipt
        }
        var lost: [String] = []
        var late: [String] = []
        var inTime = 0
        var expired = 0
        for message in ledger.sent {
            let key = "\(message.device)|\(message.id)"
            if let receipt = firstReceipt[key] {
                if receipt.at <= message.at + message.ttl + Self.ttlSlack {
                    inTime += 1
                } else {
                    late.append("\(message.channel.rawValue) \(key): TTL \(format(message.ttl)) s, sent at \(format(message.at)) s, delivered at \(format(receipt.at)) s")
                }
            } else if ledger.expired.contains(key) {
                expired += 1
            } else {
                lost.append("\(message.channel.rawValue) \(key): sent at \(format(message.at)) s (TTL \(format(message.ttl)) s), neither delivered nor reported expired")
            }
        }
        add("every message taken for a device reached it before its TTL or was reported expired",
            checked: ledger.sent.count, violations: lost)
        add("nothing delivered after its TTL", checked: ledger.sent.count, violations: late)
        counts["downstream_taken"] = ledger.sent.count
        counts["downstream_delivered"] = inTime
        counts["downstream_expired_reported"] = expired
        counts["downstream_lost"] = lost.count
        counts["downstream_same_id_repeats_dropped_by_clients"] = ledger.sameIdRepeats

        // Order and foreign repeats, per device and channel, over the messages the senders counted. A repeat of an id
        // the device already had (a client that left drops no repeats for the next one, and an ack lost in a fault
        // leaves the message in the mailbox) is at least once, not disorder: order is judged on first arrivals.
        let seqOf = Dictionary(ledger.sent.map { ("\($0.device)|\($0.id)", $0.seq) }, uniquingKeysWith: { a, _ in a })
        var lastSeq: [String: Int] = [:]
        var idOfContent: [String: String] = [:]
        var arrived = Set<String>()
        var disorder: [String] = []
        var foreign: [String] = []
        var checked = 0
        var repeats = 0
        for receipt in ledger.receipts {
            guard let seq = seqOf["\(receipt.device)|\(receipt.id)"] else { continue }
            guard arrived.insert("\(receipt.device)|\(receipt.id)").inserted else {
                repeats += 1
                continue
            }
            checked += 1
            let stream = "\(receipt.device)|\(receipt.service)"
            if let content = receipt.seq {
                let contentKey = "\(stream)|\(content)"
                if let other = idOfContent[contentKey], other != receipt.id {
                    foreign.append("\(stream): content #\(content) under ids \(other) and \(receipt.id)")
                }
                idOfContent[contentKey] = receipt.id
            }
            if let last = lastSeq[stream], seq < last { disorder.append("\(stream): #\(seq) after #\(last)") }
            lastSeq[stream] = max(lastSeq[stream] ?? .min, seq)
        }
        add("order per device and service, service → device", checked: checked, violations: disorder)
        add("a message to a device repeated only under its own id", checked: checked, violations: foreign)
        counts["downstream_same_id_repeats_across_connections"] = repeats
    }

    // MARK: Topics

    private mutating func checkTopics(_ ledger: ChaosLedger) {
        var received: [String: Set<Int64>] = [:]
        var gapsUpTo: [String: [Int64]] = [:]
        var disorder: [String] = []
        var last: [String: Int64] = [:]
        for r in ledger.topicReceipts {
            let key = "\(r.device)|\(r.topic)|\(r.partition)"
            if r.isGap {
                gapsUpTo[key, default: []].append(r.offset)
            } else {
                received[key, default: []].insert(r.offset)
            }
            if let previous = last[key], r.offset <= previous { disorder.append("\(key): \(r.offset) after \(previous)") }
            last[key] = max(last[key] ?? .min, r.offset)
        }
        var missing: [String] = []
        var owed = 0
        var gaps = 0
        for (subscription, since) in ledger.subscribedAt.sorted(by: { $0.key < $1.key }) {
            let parts = subscription.split(separator: "|", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let (device, topic) = (parts[0], parts[1])
            // Published a second after the subscription was accepted: owed to it (the edge's feed may lag that much).
            for message in ledger.published where message.topic == topic && message.at > since + 1 {
                owed += 1
                let key = "\(device)|\(topic)|\(message.partition)"
                if received[key]?.contains(message.offset) == true { continue }
                if gapsUpTo[key]?.contains(where: { $0 >= message.offset }) == true {
                    gaps += 1
                    continue
                }
                missing.append("\(device) missed \(topic) \(message.partition):\(message.offset) (published at \(format(message.at)) s), with no gap")
            }
        }
        add("every topic message reached every subscriber, or a gap said it was missed", checked: owed, violations: missing)
        add("topic messages in order per subscriber", checked: ledger.topicReceipts.count, violations: disorder)
        counts["topic_published"] = ledger.published.count
        counts["topic_deliveries_owed"] = owed
        counts["topic_covered_by_gap"] = gaps
        counts["topic_missing"] = missing.count
    }

    // MARK: Recovery

    private mutating func checkReconnects(_ ledger: ChaosLedger) {
        var lostSince: [String: Double] = [:]
        var slow: [String] = []
        var losses = 0
        for change in ledger.links.sorted(by: { $0.at < $1.at }) {
            if change.connected {
                if let since = lostSince.removeValue(forKey: change.device) {
                    losses += 1
                    if change.at - since > Self.recoveryLimit {
                        slow.append("\(change.device): connected again \(format(change.at - since)) s after losing its edge at \(format(since)) s")
                    }
                }
            } else if change.onPurpose {
                lostSince[change.device] = nil
            } else if lostSince[change.device] == nil {
                lostSince[change.device] = change.at
            }
        }
        for (device, since) in lostSince.sorted(by: { $0.key < $1.key }) where ledger.endedAt - since > Self.recoveryLimit {
            losses += 1
            slow.append("\(device): lost its edge at \(format(since)) s and never connected again")
        }
        add("every device connected again within \(Int(Self.recoveryLimit)) s of losing its edge", checked: losses, violations: slow)
        counts["device_connection_losses"] = losses
    }

    private mutating func checkReadiness(_ ledger: ChaosLedger) {
        let probes = ledger.probes.sorted { $0.at < $1.at }
        let components = Set(probes.map(\.component))
        /// When every component was ready at once, first, at or after `time`.
        func allReady(after time: Double) -> Double? {
            var state: [String: Bool] = [:]
            for probe in probes {
                state[probe.component] = probe.ready
                if probe.at >= time && components.allSatisfy({ state[$0] == true }) { return probe.at }
            }
            return nil
        }
        var byKind: [String: [Double?]] = [:]
        var slow: [String] = []
        for fault in ledger.faults {
            guard let end = fault.endedAt else { continue }
            let recovered = allReady(after: end).map { $0 - end }
            byKind[fault.kind, default: []].append(recovered)
            if let recovered, recovered <= Self.recoveryLimit { continue }
            slow.append("\(fault.kind) \(fault.target) at \(format(fault.injectedAt)) s: "
                        + (recovered.map { "every component ready \(format($0)) s after it ended" } ?? "some component never ready again"))
        }
        add("every component ready within \(Int(Self.recoveryLimit)) s of its last fault, without a manual restart",
            checked: ledger.faults.count, violations: slow)
        for (kind, times) in byKind.sorted(by: { $0.key < $1.key }) {
            let known = times.compactMap { $0 }.sorted()
            recoveries.append(Recovery(kind: kind, count: times.count, p50: known.isEmpty ? -1 : known[known.count / 2],
                                       max: known.last ?? -1, neverRecovered: times.count - known.count))
        }
        counts["faults"] = ledger.faults.count
    }
}

func format(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
}
