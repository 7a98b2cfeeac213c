import Shared
import Testing
@testable import Edge

/// The delivery window on its own: order, the window bound, and notices that come late, twice or out of order.
@Suite struct DeliveryWindowTests {
    func entry(_ seq: Int64) -> MailboxEntry {
        MailboxEntry(seq: seq, id: "m\(seq)", service: "s", contentType: "application/json", expiresAtMs: .max, payload: [0x31])
    }

    /// A window that drained an empty mailbox at hello, with its cursor at `cursor`.
    func caughtUp(at cursor: Int64, capacity: Int = 3) -> DeliveryWindow {
        var window = DeliveryWindow(capacity: capacity)
        let read = window.beginDrain()!
        #expect(read.after == 0 && read.limit == capacity)
        _ = window.endDrain(cursor > 0 ? [entry(cursor)] : [], limit: capacity)
        if cursor > 0 { _ = window.acked("m\(cursor)") }
        return window
    }

    @Test func firstThingIsADrainOfTheWholeWindow() {
        var window = DeliveryWindow(capacity: 4)
        let r1 = window.notice(seq: 5, id: "m5", expired: false)
        #expect(r1 == .drain)
        let read = window.beginDrain()
        #expect(read?.after == 0 && read?.limit == 4)
        let delivered = window.endDrain([entry(3), entry(5)], limit: 4)
        #expect(delivered.map(\.seq) == [3, 5])
        #expect(window.cursor == 5)
        let r2 = window.beginDrain()
        #expect(r2 == nil, "fewer than asked for: caught up")
    }

    @Test func theNextNoticeIsDeliveredStraightAway() {
        var window = caughtUp(at: 10)
        let r3 = window.notice(seq: 11, id: "m11", expired: false)
        #expect(r3 == .deliver)
        let r4 = window.notice(seq: 12, id: "m12", expired: false)
        #expect(r4 == .deliver)
        #expect(window.cursor == 12)
    }

    @Test func repeatedAndExpiredNoticesAreSkipped() {
        var window = caughtUp(at: 10)
        let r5 = window.notice(seq: 11, id: "m11", expired: false)
        #expect(r5 == .deliver)
        let r6 = window.notice(seq: 11, id: "m11", expired: false)
        #expect(r6 == .skip)
        let r7 = window.notice(seq: 9, id: "m9", expired: false)
        #expect(r7 == .skip)
        let r8 = window.notice(seq: 12, id: "m12", expired: true)
        #expect(r8 == .skip)
    }

    @Test func aGapMeansReadTheMailboxSoNothingIsSkippedOrReordered() {
        var window = caughtUp(at: 10)
        let r9 = window.notice(seq: 12, id: "m12", expired: false)
        #expect(r9 == .drain, "11 has not been seen: it may be in the mailbox")
        let read = window.beginDrain()!
        #expect(read.after == 10)
        let r10 = window.notice(seq: 11, id: "m11", expired: false)
        #expect(r10 == .wait, "while a read is running, notices wait for it")
        let delivered = window.endDrain([entry(11), entry(12)], limit: read.limit)
        #expect(delivered.map(\.seq) == [11, 12])
        let r11 = window.beginDrain()
        #expect(r11 != nil, "a notice came during the read: read again")
    }

    @Test func aFullWindowLeavesMessagesInTheMailboxUntilAcks() {
        var window = caughtUp(at: 0, capacity: 2)
        let r12 = window.notice(seq: 1, id: "m1", expired: false)
        #expect(r12 == .deliver)
        let r13 = window.notice(seq: 2, id: "m2", expired: false)
        #expect(r13 == .deliver)
        #expect(window.room == 0)
        let r14 = window.notice(seq: 3, id: "m3", expired: false)
        #expect(r14 == .wait)
        let r15 = window.beginDrain()
        #expect(r15 == nil, "no room")
        let first = window.acked("m1")
        let second = window.acked("m1")
        #expect(first && !second, "a second ack of the same id is nothing")
        let read = window.beginDrain()
        #expect(read?.after == 2 && read?.limit == 1)
    }

    @Test func aFailedReadIsTriedAgain() {
        var window = caughtUp(at: 0)
        let r16 = window.notice(seq: 7, id: "m7", expired: false)
        #expect(r16 == .drain)
        _ = window.beginDrain()
        window.drainFailed()
        let r17 = window.beginDrain()
        #expect(r17 != nil)
    }
}
