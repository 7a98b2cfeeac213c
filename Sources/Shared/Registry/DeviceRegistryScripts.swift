import Infrastructure
/// The Lua scripts behind `DeviceRegistry`; each runs atomically on the Redis server.
///
/// Times are taken from the Redis server clock (`TIME`) so all edges agree. Numbers are written with
/// `%d` because Lua 5.1 would print large numbers in exponent form.
enum DeviceRegistryScripts {
    /// KEYS: route, epoch counter. ARGV: edge, session, route TTL ms, epoch TTL ms.
    /// Returns {epoch, since, old edge, old session, old epoch, old since} (old fields nil when there was no route).
    static let claim = RedisScript("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local old = redis.call('HMGET', KEYS[1], 'edge', 'session', 'epoch', 'since')
        -- A missing counter (expired, or Redis lost its data) restarts from the clock in ms, which is above
        -- any epoch handed out before, so epochs never go backwards.
        local current = tonumber(redis.call('GET', KEYS[2]))
        local epoch = current and current + 1 or now
        local previous = tonumber(old[3])
        if previous and epoch <= previous then epoch = previous + 1 end
        redis.call('SET', KEYS[2], string.format('%d', epoch), 'PX', ARGV[4])
        redis.call('HSET', KEYS[1], 'edge', ARGV[1], 'session', ARGV[2],
                   'epoch', string.format('%d', epoch), 'since', string.format('%d', now))
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return {epoch, now, old[1], old[2], old[3], old[4]}
        """)

    /// KEYS: route. ARGV: session. Deletes the route only if it still names the session; returns 1 or 0.
    static let release = RedisScript("""
        if redis.call('HGET', KEYS[1], 'session') == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """)

    /// KEYS: route. ARGV: session, route TTL ms. Extends the TTL only if the route still names the session; 1 or 0.
    static let refresh = RedisScript("""
        if redis.call('HGET', KEYS[1], 'session') == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """)
}
