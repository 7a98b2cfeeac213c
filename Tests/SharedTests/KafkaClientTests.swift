import DevCluster
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import Infrastructure

/// Exercises the librdkafka wrappers against a real Tansu broker, one broker per test so tests can run in parallel.
/// Consumers block, so their loops run on dedicated threads, as in production, never on the test's task.
@Suite("Kafka client")
struct KafkaClientTests {
    let logger: Logger = {
        var logger = Logger(label: "kafka-test")
        logger.logLevel = .notice
        return logger
    }()
    /// For clients pointed at a dead port on purpose, whose connection errors are expected.
    let quietLogger = Logger(label: "kafka-test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("librdkafka is new enough")
    func version() throws {
        try Librdkafka.requireSupportedVersion()
        #expect(Librdkafka.version >= 0x0201_00ff)
        #expect(Librdkafka.versionString.hasPrefix("2."))
        // Debian bookworm's 2.0.2 is refused with a message that says why and what to do.
        let error = try #require(throws: KafkaError.self) { try Librdkafka.requireSupported(version: 0x0200_02ff, named: "2.0.2") }
        #expect(error.message.contains("librdkafka 2.0.2 is too old") && error.message.contains("scripts/setup.sh"))
        try Librdkafka.requireSupported(version: 0x0201_00ff, named: "2.1.0")
    }

    @Test("records keep keys, values and headers, and per-key order, through a consumer group")
    func produceAndConsumeInGroup() async throws {
        try await withTansu { tansu in
            let topic = uniqueName("orders")
            let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: tansu.bootstrap), messageTimeout: .seconds(30), logger: logger)
            defer { producer.shutdownBlocking() }
            var sent: [OutgoingRecord] = []
            for seq in 0..<10 {
                for key in ["alpha", "beta", "gamma"] {
                    sent.append(OutgoingRecord(
                        topic: topic, key: Array(key.utf8), value: Array("\(key)-\(seq)".utf8),
                        headers: [KafkaHeader("seq", "\(seq)"), KafkaHeader("dup", "first"),
                                  KafkaHeader("dup", "last"), KafkaHeader("bin", [0, 255, 7])]))
                }
            }
            sent.append(OutgoingRecord(topic: topic, key: nil, value: []))
            let deliveries = try sendAll(producer, sent)
            // The same key always lands in the same partition.
            for key in ["alpha", "beta", "gamma"] {
                let partitions = Set(zip(sent, deliveries).filter { $0.0.key == Array(key.utf8) }.map { $0.1.partition })
                #expect(partitions.count == 1)
            }

            let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: tansu.bootstrap),
                                             groupID: uniqueName("group"), logger: logger)
            defer { consumer.close() }
            try consumer.subscribe(topics: [topic])
            let received = try poll(consumer, until: sent.count, within: .seconds(20))
            #expect(consumer.hasAssignment)
            try #require(received.count == sent.count)

            for key in ["alpha", "beta", "gamma"] {
                let ofKey = received.filter { $0.key == Array(key.utf8) }
                #expect(ofKey.map { $0.headerString("seq") } == (0..<10).map { "\($0)" })
                #expect(ofKey.map { String(decoding: $0.value, as: UTF8.self) } == (0..<10).map { "\(key)-\($0)" })
            }
            let first = try #require(received.first { $0.key == Array("alpha".utf8) })
            #expect(first.topic == topic)
            #expect(first.headerString("dup") == "last")
            #expect(first.header("bin") == [0, 255, 7])
            #expect(first.header("missing") == nil)
            #expect(first.headers.map(\.name) == ["seq", "dup", "dup", "bin"])
            #expect(first.timestampMs != nil)
            let unkeyed = try #require(received.first { $0.key == nil })
            #expect(unkeyed.value.isEmpty && unkeyed.headers.isEmpty)
        }
    }

    @Test("a new consumer in the same group starts after the committed offsets")
    func commitThenResume() async throws {
        try await withTansu { tansu in
            let topic = uniqueName("commits")
            let group = uniqueName("group")
            let config = KafkaConfig(bootstrapServers: tansu.bootstrap)
            let producer = try KafkaProducer(config: config, messageTimeout: .seconds(30), logger: logger)
            defer { producer.shutdownBlocking() }
            _ = try sendAll(producer, (0..<12).map { record(topic, key: "k\($0 % 3)", value: "old-\($0)") })

            let first = try KafkaConsumer(config: config, groupID: group, logger: logger)
            try first.subscribe(topics: [topic])
            let old = try poll(first, until: 12, within: .seconds(20))
            try #require(old.count == 12)
            try first.commit(old)
            try first.commit([])  // nothing to do
            first.close()
            first.close()  // idempotent
            #expect(throws: KafkaError.self) { try first.poll(maxRecords: 1, timeout: .zero) }

            _ = try sendAll(producer, (0..<6).map { record(topic, key: "k\($0 % 3)", value: "new-\($0)") })
            let second = try KafkaConsumer(config: config, groupID: group, logger: logger)
            defer { second.close() }
            try second.subscribe(topics: [topic])
            var fresh = try poll(second, until: 6, within: .seconds(20))
            fresh += try second.poll(maxRecords: 100, timeout: .milliseconds(300))
            #expect(fresh.map { String(decoding: $0.value, as: UTF8.self) }.sorted() == (0..<6).map { "new-\($0)" })
        }
    }

    @Test("assignFromEnd skips earlier records and sees every later one")
    func assignFromEnd() async throws {
        try await withTansu { tansu in
            let topic = uniqueName("inbox")
            let config = KafkaConfig(bootstrapServers: tansu.bootstrap)
            let admin = try KafkaAdmin(config: config, logger: logger)
            try admin.createTopics([TopicSpec(name: topic)])
            let producer = try KafkaProducer(config: config, messageTimeout: .seconds(30), logger: logger)
            defer { producer.shutdownBlocking() }
            _ = try sendAll(producer, (0..<8).map { record(topic, key: "k\($0)", value: "before-\($0)") })

            let consumer = try KafkaConsumer(config: config, groupID: nil, logger: logger)
            defer { consumer.close() }
            #expect(!consumer.hasAssignment)
            try consumer.assignFromEnd(topic: topic)
            #expect(consumer.hasAssignment)
            #expect(throws: KafkaError.self) { try consumer.commit([KafkaRecord(topic: topic, partition: 0, offset: 0, key: nil, value: [])]) }

            _ = try sendAll(producer, (0..<8).map { record(topic, key: "k\($0)", value: "after-\($0)") })
            var received = try poll(consumer, until: 8, within: .seconds(10))
            received += try consumer.poll(maxRecords: 100, timeout: .milliseconds(300))
            #expect(received.map { String(decoding: $0.value, as: UTF8.self) }.sorted() == (0..<8).map { "after-\($0)" })
        }
    }

    @Test("createTopics is idempotent and partitionCount reads metadata")
    func createTopics() async throws {
        try await withTansu { tansu in
            let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: tansu.bootstrap), logger: logger)
            try admin.checkReachable()
            let three = uniqueName("three")
            let four = uniqueName("four")
            let specs = [TopicSpec(name: three, partitions: 3), TopicSpec(name: four)]
            try admin.createTopics(specs)
            try admin.createTopics(specs)
            #expect(try admin.partitionCount(topic: three) == 3)
            #expect(try admin.partitionCount(topic: four) == 4)
            #expect(try admin.partitionCount(topic: uniqueName("absent")) == nil)
            admin.close()
            admin.close()
            #expect(throws: KafkaError.self) { try admin.checkReachable() }
        }
    }

    @Test("checkReachable fails fast with a clear error when nothing listens")
    func unreachableBroker() throws {
        let bootstrap = "127.0.0.1:\(try FreePort.next())"
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: bootstrap), logger: quietLogger)
        let started = ContinuousClock.now
        let error = try #require(throws: KafkaError.self) { try admin.checkReachable(timeout: .seconds(1)) }
        #expect(ContinuousClock.now - started < .seconds(8), "fails rather than hanging")
        #expect(error.message.hasPrefix("cannot reach Kafka broker at \(bootstrap) within 1 s: "))
        #expect(error.isRetriable)
    }

    @Test("send fails clearly for an invalid topic, a shut-down producer, and an undeliverable record")
    func sendFailures() async throws {
        try await withTansu { tansu in
            let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: tansu.bootstrap), messageTimeout: .seconds(30), logger: logger)
            let called = Locked(0)
            let invalid = try #require(throws: KafkaError.self) {
                try producer.send(OutgoingRecord(topic: "no spaces!", key: nil, value: [1])) { _ in called.withLock { $0 += 1 } }
            }
            #expect(invalid.message.contains("invalid Kafka topic name"))
            producer.shutdownBlocking()
            producer.shutdownBlocking()  // idempotent
            let closed = try #require(throws: KafkaError.self) {
                try producer.send(record("fine", key: "k", value: "v")) { _ in called.withLock { $0 += 1 } }
            }
            #expect(closed.message.contains("closed"))
            #expect(called.withLock { $0 } == 0)
        }

        // Nothing listens: librdkafka's message timeout must reach the caller as a failed delivery.
        let dead = KafkaConfig(bootstrapServers: "127.0.0.1:\(try FreePort.next())",
                               properties: ["message.timeout.ms": "300"])
        let producer = try KafkaProducer(config: dead, messageTimeout: .seconds(30), logger: quietLogger)
        let error = try await #require(throws: KafkaError.self) { try await producer.send(record("t", key: "k", value: "v")) }
        #expect(error.codeName == "_MSG_TIMED_OUT")
        #expect(error.isRetriable)
        producer.shutdownBlocking(timeout: .zero)
    }

    @Test("shutdown purges what it could not deliver, and each callback still runs exactly once")
    func shutdownPurges() async throws {
        let dead = KafkaConfig(bootstrapServers: "127.0.0.1:\(try FreePort.next())")
        let producer = try KafkaProducer(config: dead, messageTimeout: .seconds(30), logger: quietLogger)
        let outcomes = Locked([Int: [Bool]]())
        for index in 0..<5 {
            try producer.send(record("t", key: "k", value: "\(index)")) { result in
                outcomes.withLock { $0[index, default: []].append((try? result.get()) != nil) }
            }
        }
        let started = ContinuousClock.now
        try await onThread { producer.shutdownBlocking(timeout: .milliseconds(300)) }
        #expect(ContinuousClock.now - started < .seconds(10), "does not wait out the 300 s message timeout")
        #expect(outcomes.withLock { $0 } == Dictionary(uniqueKeysWithValues: (0..<5).map { ($0, [false]) }))
    }

    @Test("async send resumes with the delivery")
    func asyncSend() async throws {
        let tansu = try await onThread { try TansuProcess.start() }
        defer { tansu.stop() }
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: tansu.bootstrap), messageTimeout: .seconds(30), logger: logger)
        let topic = uniqueName("async")
        let a = try await producer.send(record(topic, key: "same", value: "1"))
        let b = try await producer.send(record(topic, key: "same", value: "2"))
        #expect((0..<4).contains(a.partition))
        #expect(a.partition == b.partition)
        #expect(a.offset >= 0 && b.offset > a.offset)
        producer.shutdownBlocking()
    }

    @Test("send(on:) completes its future on the loop given, and throws at once when refused")
    func eventLoopSend() async throws {
        let tansu = try await onThread { try TansuProcess.start() }
        defer { tansu.stop() }
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: tansu.bootstrap), messageTimeout: .seconds(30), logger: logger)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let topic = uniqueName("loop")
        let (delivery, onLoop) = try await producer.send(record(topic, key: "k", value: "1"), on: loop)
            .map { ($0, loop.inEventLoop) }.get()
        #expect(onLoop)
        #expect(delivery.offset >= 0)
        #expect(throws: KafkaError.self) { try producer.send(OutgoingRecord(topic: "no spaces!", key: nil, value: [1]), on: loop) }
        producer.shutdownBlocking()
        #expect(throws: KafkaError.self) { try producer.send(record(topic, key: "k", value: "2"), on: loop) }
    }

    // MARK: - Helpers

    /// Runs `body` against a fresh broker on a dedicated thread: it blocks, and the test's executor has
    /// only as many threads as cores.
    private func withTansu(_ body: @escaping @Sendable (TansuProcess) throws -> Void) async throws {
        try await onThread {
            let tansu = try TansuProcess.start()
            defer { tansu.stop() }
            try body(tansu)
        }
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    private func uniqueName(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8))" }

    private func record(_ topic: String, key: String, value: String) -> OutgoingRecord {
        OutgoingRecord(topic: topic, key: Array(key.utf8), value: Array(value.utf8))
    }

    /// Sends in order without waiting in between, then waits for every delivery report (in send order).
    private func sendAll(_ producer: KafkaProducer, _ records: [OutgoingRecord]) throws -> [KafkaDelivery] {
        let results = Locked([Int: Result<KafkaDelivery, KafkaError>]())
        let done = DispatchSemaphore(value: 0)
        for (index, record) in records.enumerated() {
            try producer.send(record) { result in
                results.withLock { $0[index] = result }
                done.signal()
            }
        }
        for _ in records {
            guard done.wait(timeout: .now() + 15) == .success else { throw KafkaError.invalid("delivery timed out") }
        }
        return try results.withLock { all in try (0..<records.count).map { try all[$0]!.get() } }
    }

    /// Polls until `count` records arrived or `within` passed.
    private func poll(_ consumer: KafkaConsumer, until count: Int, within: Duration) throws -> [KafkaRecord] {
        let deadline = ContinuousClock.now + within
        var records: [KafkaRecord] = []
        while records.count < count && ContinuousClock.now < deadline {
            records += try consumer.poll(maxRecords: count - records.count, timeout: .milliseconds(200))
        }
        return records
    }
}

@Suite struct KafkaSecretsTests {
    @Test func anInvalidSecretPropertyIsNamedButNeverShown() throws {
        let config = KafkaConfig(bootstrapServers: "127.0.0.1:1", properties: ["unknown.password": "hunter2-very-secret"])
        do {
            _ = try KafkaProducer(config: config, messageTimeout: .seconds(30), logger: .init(label: "secrets", factory: { _ in SwiftLogNoOpLogHandler() }))
            Issue.record("an invalid configuration was accepted")
        } catch {
            #expect(!"\(error)".contains("hunter2") && "\(error)".contains("unknown.password"), "\(error)")
        }
        #expect(KafkaConfig.isSecret("sasl.password") && KafkaConfig.isSecret("ssl.key.password") && !KafkaConfig.isSecret("acks"))
    }
}
