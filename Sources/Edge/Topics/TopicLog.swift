import ChannelProtocol
import NIOConcurrencyHelpers

/// The recent past of the topic stream, held in memory by every edge: each record its feed read, per topic, within a
/// budget of bytes; the oldest go first.
///
/// It serves what subscribers missed (a device resuming from a position, a slow one catching up) without asking the
/// broker. Guarantees: per partition it holds every record from ``coveredFrom(_:)`` to the feed's head with no hole
/// (records are appended in offset order and dropped only from the oldest end), so a read that starts at or after
/// `coveredFrom` misses nothing; one that starts before it is told so (`.needsBroker`) and must read the broker first.
final class TopicLog: @unchecked Sendable {
    enum Read {
        /// The topic's entries after the position, oldest first, up to the limit; `more` when others follow.
        case entries([TopicEntry], more: Bool)
        /// The log starts after the position: records from the position up to `coveredFrom` must come from the broker.
        case needsBroker(coveredFrom: Int64)
    }

    private struct History {
        var entries: [TopicEntry] = []
        var head = 0
        var live: ArraySlice<TopicEntry> { entries[head...] }

        mutating func dropFirst() {
            head += 1
            if head >= 1024 && head * 2 >= entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }
    }

    private let lock = NIOLock()
    private let budget: Int
    private var used = 0
    private var byTopic: [String: History] = [:]
    /// Every entry, oldest first, from `fifoHead`.
    private var fifo: [TopicEntry] = []
    private var fifoHead = 0
    /// Per partition: the first offset held (everything before it is gone or was never read) and the next one due.
    private var covered: [Int32: Int64] = [:]
    private var heads: [Int32: Int64] = [:]

    init(budgetBytes: Int) {
        budget = budgetBytes
    }

    /// Where the feed starts reading each partition; the log covers each from there.
    func start(at offsets: [Int32: Int64]) {
        lock.withLock {
            covered = offsets
            heads = offsets
        }
    }

    /// The number of partitions of the topic stream (0 before ``start(at:)``).
    var partitionCount: Int32 { lock.withLock { Int32(heads.count) } }

    /// The offset the feed reads next on `partition`, nil for a partition the stream does not have.
    func head(_ partition: Int32) -> Int64? { lock.withLock { heads[partition] } }

    func coveredFrom(_ partition: Int32) -> Int64? { lock.withLock { covered[partition] } }

    /// Bytes held, for the metrics.
    var bytes: Int { lock.withLock { used } }

    /// Appends what the feed read (in offset order per partition), then drops the oldest entries past the budget.
    func append(_ entries: [TopicEntry], heads newHeads: [Int32: Int64]) {
        lock.withLock {
            for entry in entries {
                byTopic[entry.topic, default: History()].entries.append(entry)
                fifo.append(entry)
                used += entry.cost
            }
            for (partition, head) in newHeads { heads[partition] = max(heads[partition] ?? 0, head) }
            while used > budget, fifoHead < fifo.count {
                let oldest = fifo[fifoHead]
                fifoHead += 1
                used -= oldest.cost
                let position = oldest.position
                covered[position.partition] = max(covered[position.partition] ?? 0, position.offset + 1)
                byTopic[oldest.topic]?.dropFirst()
                if byTopic[oldest.topic]?.live.isEmpty == true { byTopic[oldest.topic] = nil }
            }
            if fifoHead >= 4096 && fifoHead * 2 >= fifo.count {
                fifo.removeFirst(fifoHead)
                fifoHead = 0
            }
        }
    }

    /// Up to `limit` entries of `topic` on `after.partition` after `after`.
    func read(topic: String, after: TopicPosition, limit: Int) -> Read {
        lock.withLock {
            let from = covered[after.partition] ?? 0
            if after.offset + 1 < from { return .needsBroker(coveredFrom: from) }
            guard let history = byTopic[topic] else { return .entries([], more: false) }
            let live = history.live
            // Entries of one partition are in offset order; binary search for the first after `after`.
            var low = live.startIndex
            var high = live.endIndex
            while low < high {
                let mid = (low + high) / 2
                let position = live[mid].position
                if position.partition < after.partition
                    || (position.partition == after.partition && position.offset <= after.offset) {
                    low = mid + 1
                } else {
                    high = mid
                }
            }
            var found: [TopicEntry] = []
            var index = low
            while index < live.endIndex && found.count < limit {
                if live[index].position.partition == after.partition { found.append(live[index]) }
                index += 1
            }
            return .entries(found, more: index < live.endIndex)
        }
    }
}
