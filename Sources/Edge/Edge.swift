import Foundation
import Infrastructure
import Lifecycle
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import Shared

/// An edge: holds device connections, publishes what devices send, delivers what the router hands it.
///
/// `start()` fails with a clear error when librdkafka is too old, the broker or Redis cannot be reached, or neither
/// usable TLS files nor plaintext are configured, before any device can connect. While running, the edge keeps its
/// liveness key in Redis fresh (a route pointing at an edge whose key expired counts as offline) and refreshes the
/// routes of its devices in batches. With TLS, SIGHUP (or ``reloadTLS()``) rereads the certificate files for new
/// connections; open connections keep theirs.
///
/// A drain asked over the hand-off listener (``requestDrain()``) fires ``shutdownTrigger``, which starts the process's
/// graceful shutdown exactly as SIGTERM does; from the moment either begins, the edge publishes `draining` in its stats
/// (``EdgeStats``) beside its liveness record.
public final class Edge: Sendable {
    public let config: EdgeConfig
    /// Fired by ``requestDrain()``; the process's service group attaches its graceful shutdown to it.
    public let shutdownTrigger = ShutdownTrigger()
    private let logger: Logger
    private let state = NIOLockedValueBox<Running?>(nil)
    private let draining = NIOLockedValueBox(false)
    private let startedAtMs = Int64(Date().timeIntervalSince1970 * 1000)

    private struct Running: Sendable {
        let group: MultiThreadedEventLoopGroup
        let server: any Channel
        let context: EdgeContext
        let handoffServer: any Channel
        let redis: any RedisKeyspace & Service
        let registry: DeviceRegistry
        let producer: KafkaProducer
        let handoff: HandoffClient
        let acks: MailboxAcks
        let record: EdgeRecord
        let roster: ClusterRoster
        let limiter: ConnectionLimiter
        let tls: TLSContextSource?
        let reloadOnHangup: TLSReloadOnHangup?
        let topicFeed: TopicFeed
        let topicReplay: TopicReplayReader
        let revocationFollower: RevocationFollower
    }

    public init(config: EdgeConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The edge's Kafka producer (devices' messages, connection events), once started: for its readiness check and
    /// metrics.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] {
        state.withLockedValue { $0 }.map { [("edge", $0.producer)] } ?? []
    }

    /// The port the edge listens on (useful when configured with port 0).
    public var port: Int? { state.withLockedValue { $0?.server.localAddress?.port } }

    /// Number of devices connected right now.
    public var connectedDevices: Int { state.withLockedValue { $0?.context.devices.count ?? 0 } }

    /// Whether the edge has begun to drain (SIGTERM, or ``requestDrain()``).
    private var isDraining: Bool { draining.withLockedValue { $0 } }

    /// Starts the drain SIGTERM starts (``services``), by firing ``shutdownTrigger``, and publishes `draining` at once.
    /// A second request, or one while already draining, changes nothing.
    public func requestDrain() {
        guard beginDraining() else { return }
        logger.notice("drain requested: shutting down gracefully, as on SIGTERM")
        shutdownTrigger.fire()
    }

    /// Marks the edge draining and publishes its stats at once (without waiting for the next heartbeat); false if it
    /// already was.
    private func beginDraining() -> Bool {
        let first = draining.withLockedValue { was in defer { was = true }; return !was }
        guard first, let running = state.withLockedValue({ $0 }) else { return first }
        let (stats, record, ttl, id, logger) = (stats(running.context.devices), running.record,
                                                Duration.seconds(config.edgeHeartbeatTTLSeconds), config.edgeID, logger)
        Task {
            do { try await running.roster.publishEdge(id, record: record, stats: stats, ttl: ttl) } catch {
                logger.warning("cannot publish the edge's draining state: \(error)")
            }
        }
        return true
    }

    private func stats(_ devices: ConnectedDevices) -> EdgeStats {
        EdgeStats(connections: devices.count, startedAtMs: startedAtMs, draining: isDraining)
    }

    /// TCP connections refused at accept since the edge started: edge full, per-IP cap, per-IP connect rate.
    public var refusedConnections: (edgeFull: Int, perIPConnections: Int, perIPConnectRate: Int) {
        let refused = state.withLockedValue { $0?.limiter.refused } ?? [:]
        return (refused[.edgeFull] ?? 0, refused[.peerConnections] ?? 0, refused[.peerConnectRate] ?? 0)
    }

    /// Rereads the TLS files, as SIGHUP does: new connections get the new certificate, open ones keep theirs.
    /// - Returns: false if the edge is not running with TLS, or the files could not be used (the old ones stay).
    @discardableResult
    public func reloadTLS() -> Bool {
        state.withLockedValue { $0?.tls }?.reload() ?? false
    }

    public func start() async throws {
        try config.limits.validate()
        try Librdkafka.requireSupportedVersion()
        let topics = config.services.services.values.map { TopicSpec(name: $0.topic, partitions: config.upPartitions) }
            + config.services.names.map { TopicSpec(name: config.topics.report($0), partitions: config.upPartitions) }
            + (config.connectionEvents ? [TopicSpec(name: config.topics.connections, partitions: Defaults.topicPartitions)] : [])
            + [TopicSpec(name: config.topics.topicStream, partitions: config.topicPartitions)]
        let (kafka, logger) = (config.kafka, self.logger)
        let redis = config.redis.connect(logger: logger)
        // The checks block on the network: a thread of their own, not the cooperative pool.
        try await offload("edge-start") {
            let admin = try KafkaAdmin(config: kafka, logger: logger)
            defer { admin.close() }
            try admin.checkReachable()
            try admin.createTopics(topics)
            try redis.checkReachable()
        }
        // Checked after the broker and Redis, so that a missing dependency is reported first.
        let tls: TLSContextSource?
        do {
            tls = try Self.loadTLS(config, logger: logger)
        } catch {
            redis.close()
            throw error
        }
        let registry = DeviceRegistry(redis: redis, prefix: config.topics.prefix,
                                      routeTTL: .seconds(config.routeTTLSeconds))

        var producerConfig = config.kafka
        if config.kafka.properties["queue.buffering.max.kbytes"] == nil && config.kafka.producerProperties["queue.buffering.max.kbytes"] == nil {
            producerConfig.producerProperties["queue.buffering.max.kbytes"] = String(config.producerBufferKiB)
        }
        let producer = try KafkaProducer(config: producerConfig, messageTimeout: .seconds(config.publishTimeoutSeconds),
                                         logger: logger)
        let metrics = EdgeMetrics(services: config.services.names)
        let devices = ConnectedDevices(gauge: metrics.connections)
        let events = config.connectionEvents
            ? ConnectionEventPublisher(producer: producer, topics: config.topics, edgeID: config.edgeID) : nil
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        // Before any device can connect, so that every connection of this edge comes after it.
        await events?.publishStart(on: group.next(), logger: logger)
        let topicStream = try await Self.startTopics(config, group: group, metrics: metrics, logger: logger)
        // Loaded before any device can connect, so that no revoked token gets in while the follower starts.
        let revocations = EdgeRevocations(RevocationSet(
            try await RevocationStore(redis: redis, keys: RedisKeys(prefix: config.topics.prefix)).all()))
        let mailbox = Mailbox(redis: redis, prefix: config.topics.prefix)
        let acks = MailboxAcks(mailbox: mailbox, reports: (producer, group.next()), topics: config.topics,
                               batch: config.ackBatch, delay: config.ackDelay, logger: logger)
        let handoff = HandoffClient(sender: config.edgeID, settings: config.handoff, logger: logger)
        let context = EdgeContext(config: config, publisher: producer, routes: registry, mailbox: mailbox, acks: acks,
                                  handoff: handoff, tokens: try await TokenAuthority(keys: config.tokenKeys),
                                  devices: devices, metrics: metrics, connectionEvents: events, topics: topicStream.shared,
                                  revocations: revocations, logger: logger)
        let revocationFollower = RevocationFollower(redis: config.redis.connect(logger: logger),
                                                    keys: RedisKeys(prefix: config.topics.prefix),
                                                    revocations: revocations, devices: devices, logger: logger)
        revocationFollower.thread.start()

        // The hand-off listener is published (in the liveness record) before any device can connect, so a router that
        // finds a device's route here can reach it. A new instance id per process: notices name sessions, and the
        // record tells routers that this is a new process.
        let instance = DeviceConnection.newSessionID()
        let handoffServer = try await HandoffServer.bind(host: config.handoffHost, port: config.handoffPort, group: group,
                                                         edgeID: config.edgeID, instance: instance,
                                                         secret: config.handoff.secret, devices: devices,
                                                         drain: { [weak self] in self?.requestDrain() }, logger: logger)
        if config.handoff.secret.isEmpty && !["127.0.0.1", "::1", "localhost"].contains(config.handoffHost) {
            logger.warning("the hand-off listener on \(config.handoffHost) takes notices from anyone who reaches it: set --handoff-secret (docs/handoff.md)")
        }
        let record = EdgeRecord(instance: instance, host: Self.advertisedHost(config),
                                port: handoffServer.localAddress?.port ?? config.handoffPort)
        let roster = ClusterRoster(redis: redis, keys: RedisKeys(prefix: config.topics.prefix))
        try await roster.publishEdge(config.edgeID, record: record, stats: stats(devices),
                                     ttl: .seconds(config.edgeHeartbeatTTLSeconds))

        let limiter = ConnectionLimiter(limits: Self.connectionLimits(config.limits, logger: logger))
        let server = try await EdgeServer.bind(host: config.host, port: config.port, group: group, edge: context,
                                               limiter: limiter, tls: tls)
        let reloadOnHangup = tls.map(TLSReloadOnHangup.init)
        state.withLockedValue {
            $0 = Running(group: group, server: server, context: context, handoffServer: handoffServer, redis: redis,
                         registry: registry, producer: producer, handoff: handoff, acks: acks, record: record,
                         roster: roster, limiter: limiter,
                         tls: tls, reloadOnHangup: reloadOnHangup, topicFeed: topicStream.feed, topicReplay: topicStream.replay,
                         revocationFollower: revocationFollower)
        }
    }

    /// The host routers reach the hand-off listener at.
    public static func advertisedHost(_ config: EdgeConfig) -> String {
        if let host = config.handoffAdvertisedHost { return host }
        return ["0.0.0.0", "::", ""].contains(config.handoffHost) ? "127.0.0.1" : config.handoffHost
    }

    /// Tells the connected devices to go, wave by wave, and waits until they have or the deadline (less the final
    /// margin) has passed.
    private func drain(_ devices: ConnectedDevices) async {
        let settings = config.drain
        let started = ContinuousClock.now
        let connections = devices.all().shuffled()
        let plan = DrainPlan(devices: connections.count, settings: settings)
        guard plan.devices > 0 else { return }
        logger.info("draining \(plan.devices) devices at \(plan.rate)/s")
        let jitterMs = max(1, Int(settings.jitter.inMilliseconds))
        for wave in 0..<plan.waves {
            for connection in connections[plan.wave(wave)] {
                let delay = Int.random(in: 0..<jitterMs)
                connection.channel.eventLoop.execute { connection.handler.value.drain(delayMs: delay) }
            }
            try? await Task.sleep(until: started + DrainPlan.waveInterval * (wave + 1))
        }
        let deadline = started + settings.deadline - settings.finalMargin
        while devices.count > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        logger.info("drained: \(plan.devices - devices.count) of \(plan.devices) devices gone")
    }

    /// The running edge's parts as services, in start order, for the process's one service group (empty before
    /// ``start()``). The group stops them in reverse, which drains and stops the edge: stop accepting, ask the connected
    /// devices in waves to reconnect elsewhere (``DrainPlan``: a `reconnect` frame with a random delay, then close 4005),
    /// wait for them to go until the drain deadline, close any left with 1001 (going away), release their routes, remove
    /// the edge's liveness key and flush what is in flight to the broker, including a `disconnect` event for every device
    /// it held: each connection publishes its own as it ends, and the edge publishes one for any still open 2 s after it
    /// closed them (one closing at that very moment may then be reported twice; consumers drop the repeat by its epoch).
    public var services: [(name: String, service: any Service)] {
        guard let running = state.withLockedValue({ $0 }) else { return [] }
        let context = running.context
        let liveness = EdgeLiveness(config: config, record: running.record, registry: running.registry,
                                    roster: running.roster, devices: context.devices,
                                    stats: { [weak self] in self?.stats(context.devices) }, logger: logger)
        return [
            ("redis", running.redis),
            ("event loops", ShutdownStep("event loops") { try? await running.group.shutdownGracefully() }),
            ("topic feed", running.topicFeed.service),
            ("revocations", running.revocationFollower.thread),
            ("topic replay", running.topicReplay.thread),
            ("kafka producer", running.producer),
            ("hand-off client", ShutdownStep("hand-off client") { _ = try? await offload { running.handoff.close() } }),
            ("mailbox acks", running.acks),
            ("hand-off listener", ShutdownStep("hand-off listener") { try? await running.handoffServer.close() }),
            ("liveness", liveness),
            ("devices", ShutdownStep("devices") { await self.drainAndClose(running) }),
        ]
    }

    /// Stops accepting, drains the devices, closes those left and speaks for any still open 2 s later.
    private func drainAndClose(_ running: Running) async {
        running.reloadOnHangup?.cancel()
        _ = beginDraining()
        state.withLockedValue { $0 = nil }
        try? await running.server.close()
        await drain(running.context.devices)
        for connection in running.context.devices.all() {
            connection.channel.sendAndClose(nil, code: .goingAway)
        }
        // Each connection publishes its own `disconnect` as it ends. Give them a moment; then speak for those still open,
        // whose own end may come after the producer is gone.
        let closing = ContinuousClock.now
        while running.context.devices.count > 0 && ContinuousClock.now - closing < .seconds(2) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for connection in running.context.devices.all() {
            running.context.connectionEvents?.publish(.disconnect, device: connection.device, session: connection.session,
                                                      epoch: connection.epoch, on: connection.channel.eventLoop)
        }
    }
}
