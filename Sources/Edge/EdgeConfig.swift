import Infrastructure
import Shared

/// Everything an edge needs to know to run. Defaults suit a local development cluster.
public struct EdgeConfig: Sendable {
    /// Unique among the edges of one installation; names its liveness record, and keeps to [A-Za-z0-9._-].
    public var edgeID: String
    public var host: String = "127.0.0.1"
    public var port: Int = 7001
    public var topics = Topics(prefix: Defaults.topicPrefix)
    /// The services devices may name, each mapped to the topic `<prefix>.up.<service>`.
    public var services = ServiceCatalog(names: Defaults.services, topics: Topics(prefix: Defaults.topicPrefix))
    public var kafka = KafkaConfig(bootstrapServers: Defaults.kafkaBootstrap)
    public var redis = RedisSettings(RedisEndpoint(host: Defaults.redisHost, port: Defaults.redisPort))
    /// The keys device tokens are verified with (by `kid`); the development key unless configured.
    public var tokenKeys: [TokenKey] = [.development]
    /// The largest WebSocket message accepted, in bytes; larger ones close the connection with 1009.
    public var maxMessageBytes: Int = 64 * 1024
    /// Seconds between pings; a connection silent for two of these is closed.
    public var heartbeatSeconds: Int = 25
    /// Seconds a connection may outlive its token's `exp` without a `refresh` before it is closed (4008), and how long
    /// before `exp` the device is sent `refresh_due` (at most a fifth of the token's life).
    public var tokenGraceSeconds: Int = 10
    public var refreshLeadSeconds: Int = 60
    /// Seconds a new connection has to send an accepted hello.
    public var helloTimeoutSeconds: Int = 10
    /// How long a route lives in Redis without a refresh, and how often the edge refreshes its routes (a third of it).
    public var routeTTLSeconds: Int = 3600
    /// How long the edge's liveness key lives without a refresh; the edge refreshes it every third of this.
    public var edgeHeartbeatTTLSeconds: Int = 15
    /// Whether the edge publishes a `connect` and a `disconnect` record per welcomed connection on
    /// `<prefix>.connections` (docs/kafka-contract.md, "Connection events"); the presence service needs them.
    public var connectionEvents = true
    /// Where routers and other edges hand this edge notices (docs/handoff.md): the address to listen on, the port
    /// (0: any free one), and the host they reach it at, published in the edge's liveness record (nil: `handoffHost`,
    /// or `127.0.0.1` when that listens on every address).
    public var handoffHost: String = "127.0.0.1"
    public var handoffPort: Int = 0
    public var handoffAdvertisedHost: String?
    /// How the edge's own hand-offs (asking another edge to close a replaced connection) wait and give up, and the
    /// installation's hand-off secret, which the edge's listener also asks of every sender.
    public var handoff = HandoffClient.Settings()
    /// Device acks collected before their mailbox entries are deleted in one pipeline, and the longest an ack waits.
    public var ackBatch = 256
    public var ackDelay: Duration = .milliseconds(5)
    /// Messages a device may hold unacked; the rest wait in its mailbox.
    public var deliveryWindow = 32
    /// Seconds a device message may wait for the broker before the device is told to send it again (`unavailable`),
    /// unless `message.timeout.ms` is configured explicitly.
    public var publishTimeoutSeconds = 10
    /// Device messages of one connection that may wait for the broker at once; past it the edge stops reading
    /// from that device until some are delivered.
    public var maxPublishesInFlight = 256
    /// The most the edge's producer buffers for the broker, in KiB (librdkafka's `queue.buffering.max.kbytes`), unless
    /// configured explicitly; past it devices get `unavailable`.
    public var producerBufferKiB = 64 * 1024
    /// Outbound bytes queued for one connection above which the edge stops reading from that device until the
    /// queue drains below a quarter of it, so a device that does not read cannot grow the edge's memory.
    public var outboundHighWaterBytes = 256 * 1024
    public var upPartitions: Int32 = Defaults.topicPartitions
    /// The certificate chain and key devices connect with (`wss://`), reloaded on SIGHUP. Without them the edge
    /// refuses to start unless ``plaintext`` is set.
    public var tls: TLSFiles?
    /// Serve plain `ws://` without TLS: only for development and tests, or behind a proxy that terminates TLS.
    public var plaintext = false
    /// Topics (docs/protocol.md, "Topics"): the partitions the topic stream is created with, the bytes of it the edge
    /// keeps in memory for devices that resume or fall behind, how far back a resuming device is served (older
    /// messages are a `gap`), and the subscriptions one connection may hold (64 by default, so a device that
    /// reconnects can subscribe to all of them again at once within the default message burst of 100).
    public var topicPartitions: Int32 = Defaults.topicPartitions
    public var topicLogBytes = 64 * 1024 * 1024
    public var topicReplayWindow: Duration = .seconds(24 * 3600)
    public var maxTopicsPerConnection = 64
    /// Connection and message limits; the defaults are safe on the internet.
    public var limits = EdgeLimits()
    /// How a stopping edge hands its devices to the other edges (SIGTERM or SIGINT): see ``DrainPlan``.
    public var drain = DrainSettings()

    public init(edgeID: String) {
        self.edgeID = edgeID
    }
}
