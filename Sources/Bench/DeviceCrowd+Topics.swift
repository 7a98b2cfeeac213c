import ChannelClient
import ChannelProtocol
import Foundation
import Shared

/// The fanout scenario's side of a worker: topic events tallied per device, latency from the publish time in each
/// payload, and the reconnect storm (every device disconnects, then resumes from its last position).
extension DeviceCrowd {
    /// A topic event reached `slot`'s device (on its event loop, which is the only place its slot changes while
    /// devices are connected).
    func topicEvent(_ event: TopicEvent, slot: DeviceSlot, now: UInt64) {
        let bytes = event.payload.bytes
        let published = Self.timestamp(inPayload: bytes)
        let sequence = Self.sequence(inPayload: bytes)
        let duplicate = sequence.map { $0 <= slot.lastSequence } ?? false
        if let sequence, !duplicate { slot.lastSequence = sequence }
        slot.lastPosition = event.position
        slot.events += 1
        slot.eventsSinceResume += 1
        tally.withLockedValue { t in
            t.report.received += 1
            t.report.receivedSinceStart += 1
            if duplicate { t.report.duplicates += 1 }
            if let resumeAt = t.resumeAt {
                // Storm: the time until the device has every event it missed, once.
                if !slot.caughtUp && slot.eventsSinceResume >= t.missed {
                    slot.caughtUp = true
                    t.report.caughtUp += 1
                    t.latency.record(microseconds: Int64(now &- resumeAt) / 1000)
                }
            } else if t.measuring, let published {
                t.latency.record(microseconds: Int64(now &- published) / 1000)
            }
        }
    }

    /// Answers `collect <round> [<sequence>]`: the latencies since the last collect (then forgotten), and how many
    /// devices have not yet received the event numbered `sequence` (fell behind).
    func collect(round: Int, expecting sequence: Int64?) -> WorkerReport {
        let behind = sequence.map { s in slots.filter { $0.client != nil && $0.lastSequence < s }.count } ?? 0
        return tally.withLockedValue { t in
            var report = t.report
            report.round = round
            report.behind = behind
            report.latency = t.latency
            t.latency = LatencyHistogram()
            return report
        }
    }

    /// Storm: closes every device's connection (a clean close: the edge forgets its subscriptions).
    func disconnectAll() async {
        await withTaskGroup(of: Void.self) { group in
            for (index, slot) in slots.enumerated() {
                if index >= plan.connectConcurrency { await group.next() }
                group.addTask {
                    guard let client = slot.client else { return }
                    slot.client = nil
                    await client.close()
                    self.tally.withLockedValue { $0.report.disconnected += 1 }
                }
            }
        }
    }

    /// Storm: every disconnected device connects again (to the next edge when there are several), says hello and
    /// subscribes after its last position; each counts as caught up once it received `missed` events.
    /// - Parameter resumeAt: when the coordinator gave the word (monotonic ns): the caught-up times start there.
    func resumeAll(at resumeAt: UInt64, missed: Int) async {
        for slot in slots {
            slot.eventsSinceResume = 0
            slot.caughtUp = false
            slot.moves += 1
        }
        tally.withLockedValue { t in
            t.latency = LatencyHistogram()
            t.report.caughtUp = 0
            t.missed = missed
            t.resumeAt = resumeAt
        }
        await withTaskGroup(of: Void.self) { group in
            for (index, slot) in slots.enumerated() {
                if index >= plan.connectConcurrency { await group.next() }
                group.addTask { await self.connect(slot, number: self.plan.firstDevice + index, authority: nil, resuming: true) }
            }
        }
    }

    /// Fanout payloads: publish time (8 bytes), then the publisher's sequence number, 8 bytes big-endian.
    static func sequence(inPayload bytes: [UInt8]) -> Int64? {
        guard bytes.count >= 16 else { return nil }
        return Int64(bitPattern: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }
}
