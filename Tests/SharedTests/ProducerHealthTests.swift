import DevCluster
import Foundation
import Logging
import Testing

@testable import Infrastructure

/// A producer whose librdkafka producer failed for good says so (``KafkaProducer/health``) until it has replaced it,
/// so that its component turns unready; and a producer a consumer waits for must give up within the poll interval.
@Suite("Kafka producer health")
struct ProducerHealthTests {
    let quietLogger = Logger(label: "producer-health", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func aFatalErrorMakesTheProducerFailedUntilItsReplacementIsMadeThenItDeliversAgain() async throws {
        let tansu = try await offloaded { try TansuProcess.start() }
        defer { tansu.stop() }
        let config = KafkaConfig(bootstrapServers: tansu.bootstrap)
        let defaults: KeyValuePairs<String, String> = ["enable.idempotence": "true", "message.timeout.ms": "5000"]
        let release = DispatchSemaphore(value: 0)
        let producer = try KafkaProducer(logger: quietLogger) { [quietLogger] number, onFatal in
            if number == 2 { release.wait() }  // the replacement takes as long as the test says
            return try ProducerGeneration(number: number, config: config, defaults: defaults, logger: quietLogger, onFatal: onFatal)
        }
        defer { producer.shutdownBlocking(timeout: .zero) }
        _ = try await producer.send(OutgoingRecord(topic: "health", key: [1], value: [1]))
        #expect(producer.health == KafkaProducerHealth(failure: nil, replacements: 0))

        producer.injectFatalError("fenced in a test")
        let failed = try await eventually { producer.health.failure }
        #expect(failed.contains("fenced in a test") && failed.contains("replacing it"), "names the failure: \(failed)")
        #expect(producer.health.replacements == 0)

        release.signal()
        _ = try await eventually { producer.health.failure == nil ? true : nil }
        #expect(producer.health == KafkaProducerHealth(failure: nil, replacements: 1))
        let delivery = try await producer.send(OutgoingRecord(topic: "health", key: [1], value: [2]))
        #expect(delivery.offset >= 0, "the replacement delivers")
    }

    @Test func aReplacementThatCannotBeMadeKeepsTheProducerFailedAndAHealthCheckTriesAgain() async throws {
        let config = KafkaConfig(bootstrapServers: "127.0.0.1:\(try FreePort.next())")
        let defaults: KeyValuePairs<String, String> = ["enable.idempotence": "true"]
        let refuse = Locked(true)
        let producer = try KafkaProducer(logger: quietLogger) { [quietLogger] number, onFatal in
            if number > 1 && refuse.withLock({ $0 }) { throw KafkaError.invalid("no file descriptors left") }
            return try ProducerGeneration(number: number, config: config, defaults: defaults, logger: quietLogger, onFatal: onFatal)
        }
        defer { producer.shutdownBlocking(timeout: .zero) }

        producer.injectFatalError("fenced in a test")
        let failed = try await eventually { producer.health.failure.flatMap { $0.contains("cannot replace") ? $0 : nil } }
        #expect(failed.contains("fenced in a test") && failed.contains("no file descriptors left"), "\(failed)")
        #expect(producer.checkHealth().failure != nil, "still failed while replacements cannot be made")

        refuse.withLock { $0 = false }
        #expect(producer.checkHealth() == KafkaProducerHealth(failure: nil, replacements: 1), "the check made the replacement")
    }

    @Test func aProducerAConsumerWaitsForMustGiveUpWithinThePollInterval() throws {
        let config = KafkaConfig(bootstrapServers: "127.0.0.1:\(try FreePort.next())")
        #expect(KafkaProducer.timeoutInsideConsumer * 2 <= KafkaConsumer.maxPollInterval, "well under the poll interval")
        let fits = try KafkaProducer(config: config, messageTimeout: KafkaProducer.timeoutInsideConsumer, logger: quietLogger)
        defer { fits.shutdownBlocking(timeout: .zero) }
        try fits.requireFitsInsideConsumer("test")

        let tooLong = try KafkaProducer(config: config, messageTimeout: KafkaConsumer.maxPollInterval, logger: quietLogger)
        defer { tooLong.shutdownBlocking(timeout: .zero) }
        let error = try #require(throws: KafkaError.self) { try tooLong.requireFitsInsideConsumer("router") }
        #expect(error.message.contains("router") && error.message.contains("10000 ms"))

        // A property set by the operator counts, not only what the code asked for.
        var overridden = config
        overridden.producerProperties["message.timeout.ms"] = "30000"
        let configured = try KafkaProducer(config: overridden, messageTimeout: KafkaProducer.timeoutInsideConsumer, logger: quietLogger)
        defer { configured.shutdownBlocking(timeout: .zero) }
        #expect(configured.messageTimeout == .seconds(30))
        #expect(throws: KafkaError.self) { try configured.requireFitsInsideConsumer("echo") }
    }

    /// Polls `value` until it is not nil (at most 10 s).
    private func eventually<T>(_ value: () -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let found = value() { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw KafkaError.invalid("not within 10 s")
    }

    private func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
