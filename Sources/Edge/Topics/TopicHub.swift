import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// Which event loops of this edge hold subscribers of which topics, and the subscribers themselves, per loop.
///
/// Each loop's subscribers (``LoopTopics``) are touched only on that loop, so delivering and subscribing take no lock
/// there; the feed's thread only needs to know which loops to wake for a topic, which it reads from a small table
/// under one lock per batch of records.
final class TopicHub: Sendable {
    let loops: [LoopTopics]
    /// Per topic: how many subscribers each loop (by index in `loops`) holds.
    private let directory = NIOLockedValueBox<[String: [Int: Int]]>([:])

    private let metrics: EdgeMetrics

    init(group: any EventLoopGroup, metrics: EdgeMetrics) {
        self.metrics = metrics
        var loops: [LoopTopics] = []
        for (index, loop) in group.makeIterator().enumerated() { loops.append(LoopTopics(loop: loop, index: index)) }
        self.loops = loops
        for loop in loops { loop.hub = self }
    }

    /// The subscribers of `loop`; to be used on that loop.
    func local(_ loop: any EventLoop) -> LoopTopics {
        loops.first { $0.loop === loop } ?? loops[0]
    }

    /// Topics with a subscriber on this edge.
    var topicCount: Int { directory.withLockedValue { $0.count } }

    func counted(topic: String, loop index: Int, by change: Int) {
        directory.withLockedValue { directory in
            let count = (directory[topic]?[index] ?? 0) + change
            if count > 0 {
                directory[topic, default: [:]][index] = count
            } else {
                directory[topic]?[index] = nil
                if directory[topic]?.isEmpty == true { directory[topic] = nil }
            }
        }
    }

    func delivered(_ count: Int) { metrics.topicDeliveries.increment(by: Int64(count)) }

    /// Hands each entry to the loops that hold subscribers of its topic; entries no one here wants are dropped.
    func dispatch(_ entries: [TopicEntry]) {
        var work: [Int: [TopicEntry]] = [:]
        directory.withLockedValue { directory in
            for entry in entries {
                guard let loops = directory[entry.topic] else { continue }
                for index in loops.keys { work[index, default: []].append(entry) }
            }
        }
        for (index, entries) in work {
            let local = loops[index]
            local.loop.execute { local.deliver(entries) }
        }
    }
}

/// The topic subscribers of one event loop's connections; used only on that loop.
final class LoopTopics: @unchecked Sendable {
    let loop: any EventLoop
    let index: Int
    fileprivate(set) weak var hub: TopicHub?
    private var subscribers: [String: [ObjectIdentifier: DeviceConnection]] = [:]

    init(loop: any EventLoop, index: Int) {
        self.loop = loop
        self.index = index
    }

    func add(_ topic: String, _ connection: DeviceConnection) {
        loop.assertInEventLoop()
        let key = ObjectIdentifier(connection)
        guard subscribers[topic]?[key] == nil else { return }
        if subscribers[topic] == nil { hub?.counted(topic: topic, loop: index, by: 1) }
        subscribers[topic, default: [:]][key] = connection
    }

    func remove(_ topic: String, _ connection: DeviceConnection) {
        loop.assertInEventLoop()
        guard subscribers[topic]?.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        if subscribers[topic]?.isEmpty == true {
            subscribers[topic] = nil
            hub?.counted(topic: topic, loop: index, by: -1)
        }
    }

    /// Writes each entry to every live subscriber of its topic, then flushes each connection written to once.
    /// Each entry's frame is fetched once per encoding here, not once per subscriber.
    func deliver(_ entries: [TopicEntry]) {
        var written: [ObjectIdentifier: DeviceConnection] = [:]
        var deliveries = 0
        for entry in entries {
            guard let connections = subscribers[entry.topic] else { continue }
            var frames: (json: WebSocketFrame?, binary: WebSocketFrame?) = (nil, nil)
            for (key, connection) in connections {
                let frame: WebSocketFrame
                if connection.encoding.usesBinaryMessages {
                    frame = frames.binary ?? entry.frame(connection.encoding)
                    frames.binary = frame
                } else {
                    frame = frames.json ?? entry.frame(connection.encoding)
                    frames.json = frame
                }
                if connection.live(entry, frame: frame) {
                    written[key] = connection
                    deliveries += 1
                }
            }
        }
        for connection in written.values { connection.channel?.flush() }
        if deliveries > 0, let hub { hub.delivered(deliveries) }
    }
}
