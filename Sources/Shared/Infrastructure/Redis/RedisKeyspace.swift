/// One command and the key that decides where it runs: in Redis Cluster the primary of that key's slot; a single
/// server ignores the key.
public struct RedisCommand: Sendable {
    public var args: [[UInt8]]
    public var key: [UInt8]

    public init(_ args: [[UInt8]], key: [UInt8]) {
        self.args = args
        self.key = key
    }

    public init(_ args: [String], key: String) {
        self.init(args.map { Array($0.utf8) }, key: Array(key.utf8))
    }
}

/// How many replicas must hold a write before the gateway tells anyone it is done, and how long to wait for them.
/// `replicas` 0 (the default) waits for nothing: a primary's crash may then lose writes it had acknowledged.
public struct RedisDurability: Sendable, Equatable {
    public var replicas: Int
    public var timeout: Duration

    public init(replicas: Int = 0, timeout: Duration = .seconds(1)) {
        self.replicas = replicas
        self.timeout = timeout
    }
}

/// The gateway's data in Redis, wherever it lives: one server (``RedisClient``) or a Redis Cluster
/// (``RedisClusterClient``). The domain types (device registry, mailboxes, push subscriptions) are written against this
/// protocol only, so every component runs unchanged on either.
///
/// Every command names its key and every script call its keys; keys that one script touches must share a hash tag
/// (one slot), as Redis Cluster requires. The primitives complete on a Redis thread and never block; the families built
/// on them (async, blocking, futures) are in `RedisKeyspace+Families.swift`. Guarantees of each conforming type:
/// - results come back in the order given, each saying how its command or call went (an error reply is a failure,
///   never a `.error` value);
/// - commands for one node go out in one pipeline, in the order given;
/// - scripts run with EVALSHA first and EVAL for those that got NOSCRIPT.
public protocol RedisKeyspace: AnyObject, Sendable, CustomStringConvertible {
    /// Sends `commands`; `completion` runs once, on a Redis thread, with their results in command order.
    func send(_ commands: [RedisCommand], completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void)

    /// Runs `script` once per invocation, each where its first key lives; `completion` runs once, on a Redis thread,
    /// with the results in invocation order.
    func run(_ script: RedisScript, byteInvocations: [RedisScript.ByteInvocation],
             completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void)

    /// Waits (Redis `WAIT`) until `replicas` replicas of every primary holding one of `keys` have all the writes sent to
    /// it so far; fails naming the primary whose replicas fell short within `timeout`.
    func awaitReplication(of keys: [[UInt8]], replicas: Int, timeout: Duration,
                          completion: @escaping @Sendable (Result<Void, RedisError>) -> Void)

    /// The replication the domain types wait for before they report a write done (``confirmDurable(_:completion:)``).
    var durability: RedisDurability { get }

    /// Whether the caller runs on one of this keyspace's Redis threads, where waiting for a reply would deadlock.
    var isRedisThread: Bool { get }

    /// Connects and checks that Redis answers (every primary, for a cluster). Blocks: call once at start-up.
    func checkReachable(timeout: Duration) throws

    /// Checks that Redis serves the gateway's data now, for readiness: one server answers PING; a cluster answers the
    /// slot map from some node and it covers every slot. So a cluster whose one primary is failing over stays ready
    /// (its other slots serve, and clients follow the promotion), where a check of every primary would take every
    /// component out of service at once. Blocks.
    func checkServing(timeout: Duration) throws

    /// Closes the connections; later requests fail with a connection error.
    func close()
}

extension RedisKeyspace {
    /// ``checkReachable(timeout:)`` within 5 s.
    public func checkReachable() throws { try checkReachable(timeout: .seconds(5)) }

    /// Waits for ``durability``'s replicas to hold every write to `keys` sent so far; succeeds at once when it asks
    /// for none.
    public func confirmDurable(_ keys: [[UInt8]], completion: @escaping @Sendable (Result<Void, RedisError>) -> Void) {
        let durability = self.durability
        guard durability.replicas > 0, !keys.isEmpty else { return completion(.success(())) }
        awaitReplication(of: keys, replicas: durability.replicas, timeout: durability.timeout, completion: completion)
    }
}
