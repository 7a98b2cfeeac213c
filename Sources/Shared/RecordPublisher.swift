import Infrastructure
import NIOCore

/// Where a component hands the records it produces: the one call of ``KafkaProducer`` that the edge's connections
/// and the router's hand-off use, so that those run in-process in tests with a fake in its place.
///
/// Guarantees (as ``KafkaProducer/send(_:on:)``): a call that does not throw has enqueued the record, and its future,
/// on `eventLoop`, succeeds once the broker has it or fails with why it was not delivered.
public protocol RecordPublisher: Sendable {
    func send(_ record: OutgoingRecord, on eventLoop: any EventLoop) throws -> EventLoopFuture<KafkaDelivery>
}

extension KafkaProducer: RecordPublisher {}
