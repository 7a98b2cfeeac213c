import Infrastructure
import Lifecycle
import Logging
import NIOCore
import Shared

extension Edge {
    /// Joins the topic stream at its end (the feed) and opens the broker reader for older positions, both on threads
    /// of their own, before any device can connect.
    /// - Throws: when the topic stream cannot be read (broker unreachable, topic missing after creation).
    static func startTopics(_ config: EdgeConfig, group: any EventLoopGroup, metrics: EdgeMetrics,
                            logger: Logger) async throws -> (shared: EdgeTopics, feed: TopicFeed, replay: TopicReplayReader) {
        let stream = config.topics.topicStream
        let (feedConsumer, starts, replayConsumer) = try await offload("topic-feed-start") {
            let feed = try KafkaConsumer(config: config.kafka, groupID: nil, logger: logger)
            let starts = try feed.assignFromEnd(topic: stream)
            let replay = try KafkaConsumer(config: config.kafka, groupID: nil, logger: logger)
            return (feed, starts, replay)
        }
        let log = TopicLog(budgetBytes: config.topicLogBytes)
        log.start(at: starts)
        let hub = TopicHub(group: group, metrics: metrics)
        let feed = TopicFeed(consumer: feedConsumer, log: log, hub: hub, metrics: metrics, logger: logger)
        let replay = TopicReplayReader(consumer: replayConsumer, stream: stream, maxRange: EdgeTopics.maxReplayRange,
                                       logger: logger)
        let shared = EdgeTopics(log: log, hub: hub, replay: replay, maxPerConnection: config.maxTopicsPerConnection,
                                window: config.topicReplayWindow)
        feed.start()
        replay.start()
        return (shared, feed, replay)
    }
}
