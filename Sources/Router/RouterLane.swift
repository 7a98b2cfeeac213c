import Foundation
import Infrastructure
import Lifecycle
import Logging
import NIOCore
import Shared

/// One consumer of the router's group on a thread of its own, pipelined: while earlier batches wait for their edges'
/// acks, the next batch is polled and stored.
///
/// Guarantees:
/// - Batches are stored in Redis strictly one after another, in poll order; a batch that fails to store is retried
///   (after a backoff and a rewind) before anything behind it is stored, so per-device order holds across failures.
/// - Offsets are committed in poll order, and only up to the last batch whose every earlier batch is done (stored,
///   handed off or given up, reports produced or failed): nothing is committed before it is durable.
/// - At most `maxInFlight` batches wait for hand-offs at once; past that the lane routes nothing more until one is
///   done, but keeps polling (and rewinding), so it stays in its consumer group.
final class RouterLane: @unchecked Sendable {
    private final class Batch: @unchecked Sendable {
        let records: [KafkaRecord]
        /// When it was polled.
        let started: ContinuousClock.Instant
        /// Set once, under the lane's condition.
        var outcome: DownstreamRouter.Outcome?
        init(records: [KafkaRecord], started: ContinuousClock.Instant) {
            self.records = records
            self.started = started
        }
    }

    private let number: Int
    private let consumer: KafkaConsumer
    private let router: DownstreamRouter
    private let batchSize: Int
    private let maxInFlight: Int
    /// How long a stopping lane waits for its batches in flight: their hand-offs give up within it.
    private let drainLimit: Duration
    private let logger: Logger
    private let metrics: RouterMetrics
    private let finished: @Sendable (DownstreamRouter.Outcome, Duration) -> Void
    /// Wakes the lane when a batch in flight is done; guards their outcomes.
    private let condition = NSCondition()
    /// Set once, at the end of init.
    private var thread: DedicatedThread!
    // Lane thread only.
    private var inFlight: [Batch] = []
    private var failures = 0
    /// Batches done but not committed yet, and when the last commit went out.
    private var uncommitted: [Batch] = []
    private var lastCommit = ContinuousClock.now
    /// Commits go out at most this often: each is a request the broker must serve, and at a few records per poll a
    /// commit per batch would cost the broker more than the records. A crash only routes the uncommitted part again.
    static let commitInterval: Duration = .milliseconds(100)

    /// - Parameter finished: told of each batch's outcome and how long it took, on the lane's thread, in order.
    init(number: Int, consumer: KafkaConsumer, router: DownstreamRouter, batchSize: Int, maxInFlight: Int,
         drainLimit: Duration, logger: Logger, metrics: RouterMetrics, finished: @escaping @Sendable (DownstreamRouter.Outcome, Duration) -> Void) {
        self.number = number
        self.consumer = consumer
        self.router = router
        self.batchSize = batchSize
        self.maxInFlight = max(1, maxInFlight)
        self.drainLimit = drainLimit
        self.logger = logger
        self.metrics = metrics
        self.finished = finished
        thread = DedicatedThread(name: "router-lane-\(number)", logger: logger,
                                 wake: { [condition] in condition.withLock { condition.broadcast() } }) { [self] thread in
            run(thread)
        }
    }

    /// Starts polling; later calls do nothing.
    func start() { thread.start() }

    /// Asks the lane to stop polling; it then waits (at most its drain limit) for the batches in flight, commits what
    /// they finished and closes its consumer. Does not wait.
    func requestStop() { thread.requestStop() }

    /// Resumes once the lane has stopped and closed its consumer, or a second after its drain limit.
    func stopped() async { _ = await thread.finished(within: drainLimit + .seconds(1)) }

    private func run(_ thread: DedicatedThread) {
        while !thread.isStopRequested {
            commitFinished()
            if waitingForRoom() { continue }
            do {
                let batch = try consumer.poll(maxRecords: batchSize, timeout: .milliseconds(inFlight.isEmpty ? 100 : 2))
                if !batch.isEmpty { route(batch, polledAt: .now) }
            } catch {
                logger.warning("router-lane-\(number): \(error)")
                thread.pause(for: .milliseconds(500))
            }
        }
        // Let what is in flight finish (each batch gives up within the hand-off's limit), then commit it. The drain
        // limit (the hand-off's, 10 s by default, plus 1 s) may exceed the consumer's poll interval, so the lane goes on
        // polling meanwhile, or librdkafka would leave the group and the final commit would be refused (the batches
        // then routed twice). What those polls return is dropped: only the batches in flight are committed, by their
        // own offsets, so it is read again by whoever has its partition next.
        let deadline = ContinuousClock.now + drainLimit
        while !inFlight.isEmpty && ContinuousClock.now < deadline {
            condition.withLock { _ = condition.wait(until: Date().addingTimeInterval(0.05)) }
            _ = try? consumer.poll(maxRecords: batchSize, timeout: .zero)
            commitFinished(now: true)
        }
        commitFinished(now: true)
        consumer.close()
    }

    /// With `maxInFlight` batches waiting, waits a little for one to finish; returns whether it waited. It still
    /// polls, so that the lane stays in its group however long its edges take, and rewinds to what it got, which is
    /// fetched again later.
    private func waitingForRoom() -> Bool {
        guard inFlight.count >= maxInFlight else { return false }
        condition.withLock { _ = condition.wait(until: Date().addingTimeInterval(0.01)) }
        if let held = try? consumer.poll(maxRecords: batchSize, timeout: .milliseconds(0)), !held.isEmpty {
            Self.rewind(consumer, to: held, logger: logger)
        }
        return true
    }

    private func route(_ records: [KafkaRecord], polledAt: ContinuousClock.Instant) {
        let stored: DownstreamRouter.Stored
        do {
            stored = try router.store(records)
            failures = 0
        } catch {
            // Polling again (rather than retrying in place) keeps this lane in its consumer group through a long
            // outage; rewinding makes the next poll return the same batch, so nothing is skipped, and nothing behind
            // it is stored first.
            failures += 1
            let backoff = min(0.05 * Double(1 << min(failures, 6)), 2)
            logger.warning("routing a batch of \(records.count) failed (\(failures) in a row), retrying in \(backoff) s: \(error)")
            metrics.batchFailures.increment()
            Thread.sleep(forTimeInterval: backoff)
            Self.rewind(consumer, to: records, logger: logger)
            return
        }
        let batch = Batch(records: records, started: polledAt)
        inFlight.append(batch)
        router.handOff(stored).whenSuccess { [condition] outcome in
            condition.withLock {
                batch.outcome = outcome
                condition.broadcast()
            }
        }
    }

    /// Takes the batches at the front that are done and commits them, in one commit (asynchronous) at most every
    /// ``commitInterval``, or at once (synchronous) with `now`.
    private func commitFinished(now: Bool = false) {
        let done: [Batch] = condition.withLock {
            let count = inFlight.prefix { $0.outcome != nil }.count
            defer { inFlight.removeFirst(count) }
            return Array(inFlight.prefix(count))
        }
        for batch in done { finished(batch.outcome!, .now - batch.started) }
        uncommitted += done
        guard !uncommitted.isEmpty, now || ContinuousClock.now - lastCommit >= Self.commitInterval else { return }
        let committing = uncommitted
        uncommitted = []
        lastCommit = .now
        do {
            try consumer.commit(committing.flatMap(\.records), async: !now)
        } catch {
            // The batches are durable; a lost commit only means they may be routed again (the mailbox stores each
            // id once).
            logger.warning("router-lane-\(number): committing \(committing.count) batches failed: \(error)")
        }
    }

    /// Rewinds until it works: polling on past a batch that was not routed would let a later commit skip it.
    static func rewind(_ consumer: KafkaConsumer, to batch: [KafkaRecord], logger: Logger) {
        while true {
            do {
                try consumer.rewind(to: batch)
                return
            } catch {
                logger.error("cannot rewind to a failed batch, trying again: \(error)")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }
}
