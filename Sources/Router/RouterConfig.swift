import Foundation
import Infrastructure
import Shared

/// Everything a router needs to know to run. Defaults suit a local development cluster.
public struct RouterConfig: Sendable {
    public var topics = Topics(prefix: Defaults.topicPrefix)
    public var kafka = KafkaConfig(bootstrapServers: Defaults.kafkaBootstrap)
    public var redis = RedisSettings(RedisEndpoint(host: Defaults.redisHost, port: Defaults.redisPort))
    /// Routers of one installation share this consumer group, so each downstream partition has one router.
    public var groupID: String?
    public var downPartitions: Int32 = Defaults.topicPartitions
    /// Consumers (threads) of this router in the group; more overlap more Redis and broker waits. More lanes than the
    /// downstream topic has partitions leaves some idle.
    public var lanes = 1
    /// The most records routed (and committed) together.
    public var batchSize = 500
    /// Batches of one lane that may wait for their edges' acks at once, while later ones are stored.
    public var maxBatchesInFlight = 32
    /// How hand-offs to edges wait and give up (docs/handoff.md).
    public var handoff = HandoffClient.Settings()
    /// Names this router in its hand-off hellos (edges log it).
    public var routerID = "router-\(ProcessInfo.processInfo.processIdentifier)"
    /// How long a message may wait for an offline device when its record has no `ttl` header.
    public var defaultTTLSeconds: Int64 = 24 * 3600
    /// The longest wait any message gets, whatever its `ttl` header asks.
    public var maxTTLSeconds: Int64 = 30 * 24 * 3600
    /// Bounds of each device's mailbox; past them a new message is refused and reported.
    public var mailboxLimits = MailboxLimits()
    /// How often expired mailbox entries are swept out and reported.
    public var sweepIntervalSeconds = 1.0

    /// The consumer group: `groupID`, or `<prefix>-router`.
    public var effectiveGroupID: String { groupID ?? "\(topics.prefix)-router" }

    public init() {}
}
