import Shared

/// What one connection has delivered from its device's mailbox, and what it may deliver next. Free of I/O.
///
/// Guarantees: messages reach the device in mailbox order (strictly increasing sequence numbers, none skipped);
/// at most `capacity` are unacked at once, the rest stay in the mailbox; a notice is delivered straight away only
/// when it is exactly the next sequence number and nothing is waiting, otherwise the mailbox is read from the
/// cursor, so a late, repeated or out-of-order notice can neither be lost nor reorder anything.
struct DeliveryWindow {
    let capacity: Int
    /// The highest sequence number handed to the device.
    private(set) var cursor: Int64 = 0
    private(set) var unacked: [String: Int64] = [:]
    private var draining = false
    /// The mailbox may hold entries past the cursor that were not delivered. True at first: nothing is read yet.
    private var behind = true

    init(capacity: Int) {
        self.capacity = capacity
    }

    var room: Int { capacity - unacked.count }

    enum Decision: Equatable {
        /// Write it to the device now.
        case deliver
        /// Already delivered (or expired): drop the notice.
        case skip
        /// Read the mailbox from the cursor (``beginDrain()`` says how much).
        case drain
        /// Nothing to do now; a drain in progress or a later ack will pick it up.
        case wait
    }

    mutating func notice(seq: Int64, id: String, expired: Bool) -> Decision {
        if seq <= cursor || expired { return .skip }
        if seq == cursor + 1 && !behind && !draining && room > 0 && unacked[id] == nil {
            cursor = seq
            unacked[id] = seq
            return .deliver
        }
        behind = true
        return draining || room == 0 ? .wait : .drain
    }

    /// Starts a mailbox read if one is due: entries after `after`, at most `limit`.
    mutating func beginDrain() -> (after: Int64, limit: Int)? {
        guard behind, !draining, room > 0 else { return nil }
        draining = true
        behind = false
        return (cursor, room)
    }

    /// The read returned `entries` (oldest first); returns those to write to the device, in order.
    mutating func endDrain(_ entries: [MailboxEntry], limit: Int) -> [MailboxEntry] {
        draining = false
        var deliver: [MailboxEntry] = []
        for entry in entries where entry.seq > cursor {
            cursor = entry.seq
            if unacked[entry.id] == nil {
                unacked[entry.id] = entry.seq
                deliver.append(entry)
            }
        }
        if entries.count >= limit { behind = true }
        return deliver
    }

    /// The read failed; try again later (on the next ack or notice).
    mutating func drainFailed() {
        draining = false
        behind = true
    }

    /// The device acked `id`; returns whether it was outstanding here.
    mutating func acked(_ id: String) -> Bool { unacked.removeValue(forKey: id) != nil }
}
