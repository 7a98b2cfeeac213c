import ChannelProtocol
import Infrastructure
import NIOCore
import NIOWebSocket
import Shared
import Testing
@testable import Edge

/// An entry of `topic` at `partition:offset`, from `echo`, with an empty payload (cost 2 × topic bytes + 164).
func topicEntry(_ topic: String, _ partition: Int32, _ offset: Int64, payload: [UInt8] = [],
                timestampMs: Int64? = nil) -> TopicEntry {
    TopicEntry(event: TopicEvent(topic: topic, position: TopicPosition(partition: partition, offset: offset), from: "echo",
                                 payload: .binary(payload)),
               timestampMs: timestampMs)
}

/// The edge's in-memory part of the topic stream: what it holds per topic, and where it says the broker must help.
@Suite struct TopicLogTests {
    /// What a read found: the offsets of the entries, and whether more follow.
    struct Found: Equatable {
        var offsets: [Int64]
        var more = false
    }

    /// The offsets of `topic`'s entries after `partition:offset`, with `more`; nil when the broker is needed.
    func offsets(_ log: TopicLog, _ topic: String, after partition: Int32, _ offset: Int64, limit: Int = 1000) -> Found? {
        switch log.read(topic: topic, after: TopicPosition(partition: partition, offset: offset), limit: limit) {
        case .entries(let entries, let more):
            #expect(entries.allSatisfy { $0.topic == topic && $0.position.partition == partition })
            return Found(offsets: entries.map(\.position.offset), more: more)
        case .needsBroker:
            return nil
        }
    }

    func coveredFrom(_ read: TopicLog.Read) -> Int64? {
        if case .needsBroker(let from) = read { return from }
        return nil
    }

    @Test func startSetsHeadsAndCoverage() {
        let log = TopicLog(budgetBytes: 1 << 20)
        #expect(log.partitionCount == 0)
        #expect(log.head(0) == nil)
        log.start(at: [0: 10, 1: 0, 2: 7])
        #expect(log.partitionCount == 3)
        #expect(log.head(0) == 10 && log.head(1) == 0 && log.head(2) == 7)
        #expect(log.head(3) == nil, "a partition the stream does not have")
        #expect(log.coveredFrom(0) == 10 && log.coveredFrom(1) == 0)
        #expect(log.bytes == 0)
    }

    @Test func readsATopicsEntriesAfterAPosition() {
        let log = TopicLog(budgetBytes: 1 << 20)
        log.start(at: [0: 10, 1: 0])
        log.append([topicEntry("a", 0, 10), topicEntry("b", 0, 11), topicEntry("a", 0, 12), topicEntry("a", 0, 13),
                    topicEntry("b", 1, 0)],
                   heads: [0: 14, 1: 1])
        #expect(log.head(0) == 14 && log.head(1) == 1)
        #expect(offsets(log, "a", after: 0, 9) == Found(offsets: [10, 12, 13]))
        #expect(offsets(log, "a", after: 0, 10) == Found(offsets: [12, 13]))
        #expect(offsets(log, "a", after: 0, 11) == Found(offsets: [12, 13]))
        #expect(offsets(log, "a", after: 0, 13) == Found(offsets: []))
        #expect(offsets(log, "a", after: 0, 500) == Found(offsets: []), "a position ahead of the log reads nothing")
        #expect(offsets(log, "b", after: 0, 9) == Found(offsets: [11]))
        #expect(offsets(log, "b", after: 1, -1) == Found(offsets: [0]))
        #expect(offsets(log, "nobody", after: 0, 9) == Found(offsets: []))
    }

    @Test func aReadStopsAtTheLimitAndSaysMoreFollow() {
        let log = TopicLog(budgetBytes: 1 << 20)
        log.start(at: [0: 0])
        log.append((0..<10).map { topicEntry("a", 0, $0) }, heads: [0: 10])
        #expect(offsets(log, "a", after: 0, -1, limit: 3) == Found(offsets: [0, 1, 2], more: true))
        #expect(offsets(log, "a", after: 0, 2, limit: 3) == Found(offsets: [3, 4, 5], more: true))
        #expect(offsets(log, "a", after: 0, 5, limit: 4) == Found(offsets: [6, 7, 8, 9]))
        #expect(offsets(log, "a", after: 0, 6, limit: 4) == Found(offsets: [7, 8, 9]))
        #expect(offsets(log, "a", after: 0, 9, limit: 4) == Found(offsets: []))
    }

    @Test func aPositionOlderThanTheLogNeedsTheBroker() {
        let log = TopicLog(budgetBytes: 1 << 20)
        log.start(at: [0: 100])
        log.append([topicEntry("a", 0, 100), topicEntry("a", 0, 101)], heads: [0: 102])
        // The device processed 99: the next it needs is 100, which the log holds.
        #expect(offsets(log, "a", after: 0, 99) == Found(offsets: [100, 101]))
        // It processed 98: offset 99 came before the feed started.
        #expect(coveredFrom(log.read(topic: "a", after: TopicPosition(partition: 0, offset: 98), limit: 10)) == 100)
        #expect(coveredFrom(log.read(topic: "a", after: TopicPosition(partition: 0, offset: 0), limit: 10)) == 100)
        #expect(coveredFrom(log.read(topic: "never-seen", after: TopicPosition(partition: 0, offset: 3), limit: 10)) == 100,
                "even a topic the log has no entry of may have had records before it")
    }

    @Test func theOldestEntriesGoFirstPastTheBudget() {
        let cost = topicEntry("a", 0, 0).cost
        #expect(cost == 2 * 1 + 4 + 160, "2 × topic + from + 160 for an empty payload")
        let log = TopicLog(budgetBytes: 3 * cost)
        log.start(at: [0: 0, 1: 0])
        log.append([topicEntry("a", 0, 0), topicEntry("b", 0, 1), topicEntry("a", 0, 2)], heads: [0: 3])
        #expect(log.bytes == 3 * cost)
        #expect(offsets(log, "a", after: 0, -1) == Found(offsets: [0, 2]), "the budget holds exactly three")
        #expect(log.coveredFrom(0) == 0)

        log.append([topicEntry("a", 0, 3), topicEntry("b", 0, 4)], heads: [0: 5])
        #expect(log.bytes == 3 * cost)
        #expect(log.coveredFrom(0) == 2, "offsets 0 and 1 are gone")
        #expect(coveredFrom(log.read(topic: "a", after: TopicPosition(partition: 0, offset: 0), limit: 10)) == 2)
        #expect(offsets(log, "a", after: 0, 1) == Found(offsets: [2, 3]))
        #expect(offsets(log, "b", after: 0, 1) == Found(offsets: [4]))
        #expect(log.coveredFrom(1) == 0, "another partition keeps its coverage")
    }

    @Test func eachPartitionIsCoveredFromItsOwnOldestEntry() {
        let cost = topicEntry("a", 0, 0).cost
        let log = TopicLog(budgetBytes: 2 * cost)
        log.start(at: [0: 50, 1: 70])
        log.append([topicEntry("a", 0, 50), topicEntry("b", 1, 70), topicEntry("a", 0, 51), topicEntry("b", 1, 71)],
                   heads: [0: 52, 1: 72])
        #expect(log.coveredFrom(0) == 51)
        #expect(log.coveredFrom(1) == 71)
        #expect(offsets(log, "a", after: 0, 50) == Found(offsets: [51]))
        #expect(offsets(log, "b", after: 1, 70) == Found(offsets: [71]))
    }

    @Test func anEntryBiggerThanTheBudgetIsNotKept() {
        let log = TopicLog(budgetBytes: 100)
        log.start(at: [0: 0])
        log.append([topicEntry("a", 0, 0, payload: [UInt8](repeating: 1, count: 1000))], heads: [0: 1])
        #expect(log.bytes == 0)
        #expect(log.coveredFrom(0) == 1)
        #expect(log.head(0) == 1)
        #expect(offsets(log, "a", after: 0, 0) == Found(offsets: []))
        #expect(offsets(log, "a", after: 0, -1) == nil, "the one record is missed")
    }

    @Test func aTopicWhoseEntriesAllWentReadsEmpty() {
        let cost = topicEntry("a", 0, 0).cost
        let log = TopicLog(budgetBytes: 2 * cost)
        log.start(at: [0: 0])
        log.append([topicEntry("a", 0, 0)], heads: [0: 1])
        log.append([topicEntry("b", 0, 1), topicEntry("b", 0, 2)], heads: [0: 3])
        #expect(log.coveredFrom(0) == 1)
        #expect(offsets(log, "a", after: 0, 0) == Found(offsets: []))
        #expect(offsets(log, "b", after: 0, 0) == Found(offsets: [1, 2]))
        // And it comes back when the topic has a new record.
        log.append([topicEntry("a", 0, 3)], heads: [0: 4])
        #expect(offsets(log, "a", after: 0, 1) == Found(offsets: [3]))
    }

    @Test func headsOnlyMoveForward() {
        let log = TopicLog(budgetBytes: 1 << 20)
        log.start(at: [0: 10])
        log.append([], heads: [0: 20])
        #expect(log.head(0) == 20)
        log.append([], heads: [0: 15])
        #expect(log.head(0) == 20)
        // Records the feed refused (no entry) still move the head.
        log.append([], heads: [0: 25, 1: 3])
        #expect(log.head(0) == 25 && log.head(1) == 3)
    }

    /// Many more entries than the budget: the internal arrays are compacted along the way, and what remains reads
    /// back whole and in order.
    @Test func aLongStreamKeepsTheNewestWithinTheBudget() {
        let cost = topicEntry("a", 0, 0).cost
        let log = TopicLog(budgetBytes: 100 * cost)
        log.start(at: [0: 0])
        var offset: Int64 = 0
        for _ in 0..<40 {
            var batch: [TopicEntry] = []
            for _ in 0..<500 {
                batch.append(topicEntry(offset % 5 == 0 ? "b" : "a", 0, offset))
                offset += 1
            }
            log.append(batch, heads: [0: offset])
        }
        #expect(offset == 20_000)
        #expect(log.bytes == 100 * cost)
        #expect(log.coveredFrom(0) == 19_900)
        #expect(log.head(0) == 20_000)
        let a = offsets(log, "a", after: 0, 19_899)
        #expect(a?.offsets == (19_900..<20_000).filter { $0 % 5 != 0 })
        #expect(offsets(log, "b", after: 0, 19_899)?.offsets == (19_900..<20_000).filter { $0 % 5 == 0 })
        #expect(offsets(log, "a", after: 0, 19_990)?.offsets == [19_991, 19_992, 19_993, 19_994, 19_996, 19_997, 19_998, 19_999])
        #expect(offsets(log, "a", after: 0, 19_000) == nil)
        // Chunked reads, as a catch-up does them, see every entry once.
        var after: Int64 = 19_899
        var seen: [Int64] = []
        while let found = offsets(log, "a", after: 0, after, limit: 7) {
            seen += found.offsets
            guard found.more, let last = found.offsets.last else { break }
            after = last
        }
        #expect(seen == (19_900..<20_000).filter { $0 % 5 != 0 })
    }

    @Test func feedEntriesComeFromContractRecords() throws {
        let message = TopicRecord(topic: "news.sports", service: "push", contentType: "application/json",
                                  payload: Array(#"{"a":1}"#.utf8))
        let outgoing = message.record(topics: Topics(prefix: "cg"))
        let record = KafkaRecord(topic: outgoing.topic, partition: 3, offset: 41, key: outgoing.key, value: outgoing.value,
                                 headers: outgoing.headers, timestampMs: 1_700_000_000_000)
        let entry = try #require(TopicFeed.entry(record))
        #expect(entry.event == TopicEvent(topic: "news.sports", position: TopicPosition(partition: 3, offset: 41), from: "push",
                                          payload: .json(Array(#"{"a":1}"#.utf8))))
        #expect(entry.timestampMs == 1_700_000_000_000)
        // Labelled JSON but not JSON: delivered as binary.
        var notJSON = record
        notJSON.value = [0xFF]
        #expect(TopicFeed.entry(notJSON)?.event.payload == .binary([0xFF]))
        var noService = record
        noService.headers.removeAll { $0.name == "service" }
        #expect(TopicFeed.entry(noService) == nil)
    }

    @Test func anEntryEncodesItsFrameOncePerEncoding() throws {
        let entry = topicEntry("a.b", 0, 7, payload: [1, 2, 3])
        let json = entry.frame(.json)
        #expect(json.opcode == .text)
        #expect(Array(buffer: json.data) == JSONFrameCodec.encode(.event(entry.event)))
        let binary = entry.frame(.binary)
        #expect(binary.opcode == .binary)
        #expect(Array(buffer: binary.data) == BinaryFrameCodec.encode(.event(entry.event)))
        #expect(entry.frame(.json).data == json.data && entry.frame(.binary).data == binary.data)
    }
}
