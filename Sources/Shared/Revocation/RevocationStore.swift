import Foundation
import Infrastructure

/// The revocations in Redis: a hash of the rules in force and a stream of their changes, in one slot
/// (docs/redis-schema.md, "Revocations"). Operators write it (`gateway revoke`, the push service's admin API); every
/// edge follows the stream (``RevocationFollower`` in Edge) and loads the hash.
///
/// Guarantees: a rule is in the hash and its change on the stream together (one script), so an edge that reads the
/// hash after seeing the change sees the rule; a write returns once the primary has it and, with durability
/// configured, its replicas. Rules that lapsed (`until`) are dropped from the hash by the next write.
public struct RevocationStore: Sendable {
    let redis: any RedisKeyspace
    let keys: RedisKeys
    /// Changes kept on the stream: an edge that falls further behind reloads the hash anyway.
    static let logLength = 1000

    public init(redis: any RedisKeyspace, keys: RedisKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// KEYS: hash, log. ARGV: now (Unix s), field, rule JSON or "" to lift. Returns 1 when the hash changed.
    static let write = RedisScript("""
        local hash, log = KEYS[1], KEYS[2]
        local now = tonumber(ARGV[1])
        local all = redis.call('HGETALL', hash)
        for i = 1, #all, 2 do
          local ok, rule = pcall(cjson.decode, all[i + 1])
          if ok and type(rule) == 'table' and type(rule['until']) == 'number' and rule['until'] <= now then
            redis.call('HDEL', hash, all[i])
          end
        end
        local changed
        if ARGV[3] == '' then
          changed = redis.call('HDEL', hash, ARGV[2])
        else
          redis.call('HSET', hash, ARGV[2], ARGV[3])
          changed = 1
        end
        redis.call('XADD', log, 'MAXLEN', '~', '\(logLength)', '*', 'field', ARGV[2], 'op', ARGV[3] == '' and 'lift' or 'set')
        return changed
        """)

    /// Sets `rule` (replacing any rule of the same target) and announces it to the edges.
    public func set(_ rule: Revocation) async throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(rule), as: UTF8.self)
        _ = try await redis.run(Self.write, keys: [keys.revocations, keys.revocationLog],
                                args: [String(Self.now), rule.field, json])
        try await confirm()
    }

    /// Lifts the rule of `target`; false when there was none.
    @discardableResult
    public func lift(_ target: Revocation.Target) async throws -> Bool {
        let changed = try await redis.run(Self.write, keys: [keys.revocations, keys.revocationLog],
                                          args: [String(Self.now), Revocation.field(target), ""])
        try await confirm()
        return changed.int == 1
    }

    /// The rules in the hash, lapsed ones included (they match nothing); unreadable fields are skipped.
    public func all() async throws -> [Revocation] {
        Self.rules(try await redis.send(["HGETALL", keys.revocations], key: keys.revocations))
    }

    /// ``all()`` for a dedicated thread.
    public func allBlocking(timeout: Duration = .seconds(5)) throws -> [Revocation] {
        Self.rules(try redis.sendBlocking(["HGETALL", keys.revocations], key: keys.revocations, timeout: timeout))
    }

    /// The id of the last change on the stream ("0-0" when there is none), to follow it from there.
    public func lastChangeBlocking(timeout: Duration = .seconds(5)) throws -> String {
        let reply = try redis.sendBlocking(["XREVRANGE", keys.revocationLog, "+", "-", "COUNT", "1"],
                                           key: keys.revocationLog, timeout: timeout)
        return reply.array?.first?.array?.first?.string ?? "0-0"
    }

    /// Waits up to `block` for changes after `id`; returns the id of the last one, or nil when none came. For a
    /// dedicated thread with a connection of its own (the wait holds the connection).
    public func changesBlocking(after id: String, block: Duration) throws -> String? {
        let reply = try redis.sendBlocking(
            ["XREAD", "COUNT", "1000", "BLOCK", String(block.redisMilliseconds), "STREAMS", keys.revocationLog, id],
            key: keys.revocationLog, timeout: block + .seconds(3))
        // [[log, [[id, fields], …]]]
        return reply.array?.first?.array?.last?.array?.last?.array?.first?.string
    }

    private func confirm() async throws {
        try await redis.awaitReplication(of: [Array(keys.revocations.utf8)], replicas: redis.durability.replicas,
                                         timeout: redis.durability.timeout)
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    static func rules(_ reply: RedisValue) -> [Revocation] {
        guard let items = reply.array else { return [] }
        var rules: [Revocation] = []
        var index = 1
        while index < items.count {
            if let bytes = items[index].bytes, let rule = try? JSONDecoder().decode(Revocation.self, from: Data(bytes)) {
                rules.append(rule)
            }
            index += 2
        }
        return rules
    }
}

extension JSONEncoder {
    /// Sorted keys, so equal values encode alike.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
