import Foundation
import Lifecycle
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The thread behind a `RedisClient`: owns its `RedisConnection`, pipelines whatever is queued, reconnects.
///
/// All mutable state is either guarded by `condition` (the queue and flags that callers touch) or touched only
/// by the worker thread (the connection and the reconnect schedule), hence `@unchecked Sendable`.
final class RedisWorker: @unchecked Sendable {
    /// One command and whom to tell about its reply. Completions run on the worker thread.
    struct Request {
        var args: [[UInt8]]
        var completion: @Sendable (Result<RedisValue, RedisError>) -> Void
        /// Set by `checkReachable`: connect now even while backing off.
        var probe = false
    }

    let endpoint: RedisEndpoint
    private let logger: Logger
    private let maxQueued: Int
    private let maxBatch: Int

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Request] = []
    private var closed = false
    private var largestBatchSeen = 0
    /// Set once, at the end of init.
    private var thread: DedicatedThread!

    // Worker thread only.
    private var connection: RedisConnection?
    private let clock = ContinuousClock()
    private var schedule: RedisReconnectSchedule

    init(endpoint: RedisEndpoint, logger: Logger, maxQueued: Int = 100_000, maxBatch: Int = 4_096) {
        self.endpoint = endpoint
        self.logger = logger
        self.maxQueued = maxQueued
        self.maxBatch = maxBatch
        schedule = RedisReconnectSchedule(now: clock.now)
        thread = DedicatedThread(name: "redis \(endpoint)", logger: logger, wake: { [weak self] in self?.close() }) { [self] _ in
            run()
        }
        thread.start()
    }

    /// Queues `requests` together (so they go out in one pipeline) or, if closed or full, fails them at once
    /// on the caller's thread.
    func enqueue(_ requests: [Request]) {
        condition.lock()
        if closed {
            condition.unlock()
            fail(requests[...], .connection("Redis client for \(endpoint) is closed"))
            return
        }
        if queue.count + requests.count > maxQueued {
            let queued = queue.count
            condition.unlock()
            fail(requests[...], RedisError(message: "Redis request queue full (\(queued) waiting for \(endpoint))",
                                           isConnectionError: false))
            return
        }
        queue.append(contentsOf: requests)
        condition.signal()
        condition.unlock()
    }

    /// Requests queued before this still run if connected; later ones fail. Does not wait for the thread.
    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    /// The most requests written in one go so far; tests use it to see that pipelining happened.
    var largestBatch: Int {
        condition.lock()
        defer { condition.unlock() }
        return largestBatchSeen
    }

    /// Whether the caller is the worker thread, where waiting for a reply would deadlock.
    var isWorkerThread: Bool { thread.isCurrent }

    /// Resumes once the thread has run what was queued before ``close()`` and ended, or after `timeout`.
    func finished(within timeout: Duration) async -> Bool { await thread.finished(within: timeout) }

    private func run() {
        // hiredis writes with write(2); a server that went away must give EPIPE, not kill the process.
        var pipe = sigset_t()
        sigemptyset(&pipe)
        sigaddset(&pipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipe, nil)

        while true {
            condition.lock()
            while queue.isEmpty && !closed && (connection != nil || !schedule.mayConnect(at: clock.now, probe: false)) {
                if connection != nil {
                    condition.wait()
                } else {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: clock.now.duration(to: schedule.nextAttempt).inSeconds))
                }
            }
            if closed {
                let rest = queue
                queue = []
                condition.unlock()
                if connection != nil { execute(rest[...]) } else { failDisconnected(rest[...]) }
                break
            }
            let batch: ArraySlice<Request>
            if queue.count <= maxBatch {
                batch = queue[...]
                queue = []
            } else {
                batch = queue.prefix(maxBatch)
                queue.removeFirst(maxBatch)
            }
            largestBatchSeen = max(largestBatchSeen, batch.count)
            condition.unlock()

            if connection == nil && schedule.mayConnect(at: clock.now, probe: batch.contains(where: \.probe)) { connect() }
            if connection == nil {
                // Fail fast: callers must not wait out a backoff they cannot see.
                failDisconnected(batch)
            } else {
                execute(batch)
            }
        }
        connection = nil
        logger.debug("Redis client thread stopped", metadata: ["redis": "\(endpoint)"])
    }

    private func connect() {
        do {
            connection = try RedisConnection(endpoint: endpoint)
            let failedBefore = schedule.connected()
            if failedBefore > 0 {
                logger.info("reconnected to Redis", metadata: ["redis": "\(endpoint)", "failedAttempts": "\(failedBefore)"])
            } else {
                logger.debug("connected to Redis", metadata: ["redis": "\(endpoint)"])
            }
        } catch {
            let level = schedule.failed(error.message, at: clock.now)
            logger.log(level: level, "cannot connect to Redis; retrying",
                       metadata: ["redis": "\(endpoint)", "error": "\(error.message)", "attempt": "\(schedule.failedAttempts)"])
        }
    }

    /// Writes the whole batch, then reads the replies in order; on a broken connection fails the rest.
    private func execute(_ batch: ArraySlice<Request>) {
        guard let connection, !batch.isEmpty else { return }
        var index = batch.startIndex
        do {
            for request in batch { try connection.append(request.args) }
            while index < batch.endIndex {
                let value = try connection.readReply()
                let request = batch[index]
                index += 1
                if case .error(let message) = value {
                    request.completion(.failure(.reply(message)))
                } else {
                    request.completion(.success(value))
                }
            }
        } catch {
            self.connection = nil
            // The server may simply have restarted: try again at once, then back off.
            schedule.lost(error.message, at: clock.now)
            logger.warning("lost connection to Redis", metadata: ["redis": "\(endpoint)", "error": "\(error.message)"])
            fail(batch[index...], .connection(
                "lost connection to Redis at \(endpoint): \(error.message) (the command may or may not have run)"))
        }
    }

    private func failDisconnected(_ requests: ArraySlice<Request>) {
        fail(requests, .connection("cannot reach Redis at \(endpoint): \(schedule.lastError)"))
    }

    private func fail(_ requests: ArraySlice<Request>, _ error: RedisError) {
        for request in requests { request.completion(.failure(error)) }
    }
}
