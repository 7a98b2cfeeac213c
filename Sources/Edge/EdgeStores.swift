import Infrastructure
import NIOCore
import Shared

// What a device's connection needs of Redis and of the ack batcher, one protocol each, so that `DeviceConnection`
// runs in-process in tests (EmbeddedChannel) with fakes in their places. The production types conform below;
// each protocol promises what the method of the same name on that type documents.

/// The device routes: claimed at hello, released at close, and where another edge is reached.
protocol RouteRegistry: Sendable {
    func claim(device: String, edge: String, session: String) async throws -> (route: DeviceRoute, replaced: DeviceRoute?)
    func release(device: String, session: String, on eventLoop: any EventLoop) -> EventLoopFuture<Bool>
    func edgeRecord(_ edge: String) async throws -> EdgeRecord?
}

/// A device's mailbox, read in seq order as the connection delivers it.
protocol MailboxReader: Sendable {
    func read(device: String, after seq: Int64, limit: Int,
              on eventLoop: any EventLoop) -> EventLoopFuture<(entries: [MailboxEntry], expired: [MailboxEntry])>
}

/// Acks from devices, on their way to being deleted from the mailboxes. Never blocks.
protocol DeviceAcks: Sendable {
    func add(device: String, id: String)
}

extension DeviceRegistry: RouteRegistry {}
extension Mailbox: MailboxReader {}
extension MailboxAcks: DeviceAcks {}
