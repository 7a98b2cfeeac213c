import Shared

/// Everything a router needs to know to run. Defaults suit a local development cluster.
public struct RouterConfig: Sendable {
    public var topics = Topics(prefix: Defaults.topicPrefix)
    public var kafka = KafkaConfig(bootstrapServers: Defaults.kafkaBootstrap)
    public var redis = RedisEndpoint(host: Defaults.redisHost, port: Defaults.redisPort)
    /// Routers of one installation share this consumer group, so each downstream partition has one router.
    public var groupID: String?
    public var downPartitions: Int32 = Defaults.topicPartitions
    /// The most records routed (and committed) together.
    public var batchSize = 500

    /// The consumer group: `groupID`, or `<prefix>-router`.
    public var effectiveGroupID: String { groupID ?? "\(topics.prefix)-router" }

    public init() {}
}
