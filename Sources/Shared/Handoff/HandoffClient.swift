import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// How a batch of notices ended.
public enum HandoffOutcome: Sendable, Equatable {
    /// The edge acked it: it has taken responsibility for every notice.
    case handedOff
    /// Not acked within the give-up time (the edge is down, stuck or unreachable). Nothing is lost: the messages
    /// wait in their mailboxes, and a device reads its mailbox when it next connects or gets a later notice.
    case abandoned(String)
}

/// Sends notices to edges over one persistent connection per edge (docs/handoff.md). For routers, and for an edge
/// asking another edge to close a replaced connection.
///
/// Guarantees:
/// - Batches to one edge are written in the order given, and each completes exactly once: `.handedOff` when the edge
///   acks it, or `.abandoned` once it has waited `giveUpAfter` (counted from the first `send`).
/// - The notices of an abandoned batch are sent once more, first, when the same edge process (its record's instance)
///   answers again within 5 minutes (at most 100,000 per edge), so a device that stayed connected gets them without
///   waiting for a later notice; that second try has no completion, since the mailbox already holds the messages.
/// - A broken connection, or an edge that does not ack within `ackTimeout` (paused, overloaded), is closed and
///   reconnected with backoff (50 ms doubling to 1 s), and every unacked batch is sent again, in order; the edge
///   skips repeats, since each notice carries the message's seq.
/// - Connects only to an edge that answers the hello with the id asked for, so an address reused by another edge is
///   never handed a notice.
/// - Futures complete on the client's own event loop thread: keep what runs on them short.
public final class HandoffClient: Sendable {
    public struct Settings: Sendable {
        public var ackTimeout: Duration = .seconds(2)
        public var giveUpAfter: Duration = .seconds(10)
        public var connectTimeout: Duration = .seconds(1)
        /// Sent in every hello; edges configured with a secret refuse a hello without it.
        public var secret = ""
        public init() {}
    }

    let sender: String
    let settings: Settings
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let links = NIOLockedValueBox<[String: HandoffLink]>([:])
    private let ticker: NIOLockedValueBox<RepeatedTask?> = .init(nil)

    /// - Parameter sender: who is sending, named in the hello for the edge's logs (a router or edge id).
    public init(sender: String, settings: Settings = Settings(), logger: Logger) {
        self.sender = sender
        self.settings = settings
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let links = self.links
        let task = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            for link in links.withLockedValue({ Array($0.values) }) { link.tick() }
        }
        ticker.withLockedValue { $0 = task }
    }

    /// The event loop the client's connections and futures run on (it has one): a caller that goes on from a
    /// ``send(_:to:at:)`` chains there without another hop.
    public var eventLoop: any EventLoop { group.next() }

    /// Sends `notices` to `edge`, reached at `record`'s address, as one batch (split into frames of about
    /// ``HandoffCodec/maxBatchBytes``); the future, on ``eventLoop``, says how it ended (it never fails). Never blocks.
    public func send(_ notices: [HandoffNotice], to edge: String, at record: EdgeRecord) -> EventLoopFuture<HandoffOutcome> {
        let loop = group.next()
        guard !notices.isEmpty else { return loop.makeSucceededFuture(.handedOff) }
        let link = links.withLockedValue { links in
            if let link = links[edge] { return link }
            let link = HandoffLink(edge: edge, client: self, eventLoop: loop)
            links[edge] = link
            return link
        }
        let promise = loop.makePromise(of: HandoffOutcome.self)
        let frames = Self.split(notices)
        let parts = NIOLockedValueBox((left: frames.count, outcome: HandoffOutcome.handedOff))
        for frame in frames {
            link.enqueue(frame, target: record) { outcome in
                let done: HandoffOutcome? = parts.withLockedValue { parts in
                    if case .abandoned = outcome { parts.outcome = outcome }
                    parts.left -= 1
                    return parts.left == 0 ? parts.outcome : nil
                }
                if let done { promise.succeed(done) }
            }
        }
        return promise.futureResult
    }

    /// Closes every connection; batches not yet acked complete as abandoned.
    public func close() {
        ticker.withLockedValue { $0?.cancel(); $0 = nil }
        let all = links.withLockedValue { links -> [HandoffLink] in defer { links = [:] }; return Array(links.values) }
        for link in all { link.shutdown() }
        try? group.syncShutdownGracefully()
    }

    func forget(_ link: HandoffLink) {
        links.withLockedValue { links in if links[link.edge] === link { links[link.edge] = nil } }
    }

    /// Puts a forgotten link back; returns the link that took its place meanwhile, if one did.
    func remember(_ link: HandoffLink) -> HandoffLink? {
        links.withLockedValue { links in
            if let other = links[link.edge], other !== link { return other }
            links[link.edge] = link
            return nil
        }
    }

    static func split(_ notices: [HandoffNotice]) -> [[HandoffNotice]] {
        var frames: [[HandoffNotice]] = [[]]
        var bytes = 0
        for notice in notices {
            let size = HandoffCodec.size(of: notice)
            if bytes + size > HandoffCodec.maxBatchBytes && !frames[frames.count - 1].isEmpty {
                frames.append([])
                bytes = 0
            }
            frames[frames.count - 1].append(notice)
            bytes += size
        }
        return frames
    }
}
