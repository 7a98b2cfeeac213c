import NIOCore

/// How routers and edges hand notices to an edge: ``HandoffClient``'s one call, as a protocol so that the router's
/// hand-off and the edge's takeover run in-process in tests with a fake in its place.
///
/// Guarantees (as ``HandoffClient/send(_:to:at:)``): never blocks; the future never fails and says whether the edge
/// acked the batch or it was given up.
public protocol NoticeSender: Sendable {
    func send(_ notices: [HandoffNotice], to edge: String, at record: EdgeRecord) -> EventLoopFuture<HandoffOutcome>
}

extension HandoffClient: NoticeSender {}
