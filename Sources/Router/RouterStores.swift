import NIOCore
import Shared

// What the downstream router needs of Redis, one protocol each, so that `DownstreamRouter` runs in-process in tests
// with fakes in their places. The production types conform below; each protocol promises what the method of the same
// name on that type documents. All but markDelivered (a future) block: for the router's lane threads only.

/// Stores messages in their devices' mailboxes and reads each device's route in the same atomic call.
protocol MailboxStore: Sendable {
    func storeAndRouteBlocking(_ items: [(device: String, entry: MailboxEntry)], timeout: Duration) throws -> [Mailbox.Stored]
    /// Marks receipts `delivered` by `edge`; per item, whether that moved it (``Mailbox/markDelivered(_:edge:on:)``).
    func markDelivered(_ items: [(device: String, id: String)], edge: String, on eventLoop: any EventLoop) -> EventLoopFuture<[Bool]>
}

/// Where each edge is reached; edges without a record are dead.
protocol EdgeRecords: Sendable {
    func recordsBlocking(_ edges: Set<String>) throws -> [String: EdgeRecord]
}

extension Mailbox: MailboxStore {}

extension EdgeDirectory: EdgeRecords {}
