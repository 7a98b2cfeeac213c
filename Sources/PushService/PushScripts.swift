import Infrastructure
import Shared

/// The Lua scripts behind ``SubscriptionStore`` (docs/redis-schema.md, "Push"); each runs atomically on Redis.
///
/// Times come from the Redis server clock (`TIME`), so every push instance agrees on when a subscription expires.
/// Numbers are written with `%d` because Lua 5.1 would print large numbers in exponent form.
enum PushScripts {
    /// The key of a subscription hash from its id (as `SubscriptionStore.subscriptionKey`): `ARGV[7]{<tag>}<random>`
    /// for a 25-character id ending in its slot tag, `ARGV[7]<id>` for an older 22-character one.
    private static let subKey = """
        local function subKey(id)
          if #id == 25 then return ARGV[7] .. '{' .. string.sub(id, 23) .. '}' .. string.sub(id, 1, 22) end
          return ARGV[7] .. id
        end

        """

    /// KEYS: request memo, new subscription hash, the device's set. ARGV: new id, device, label, expires seconds
    /// (0 = never), memo TTL ms, tombstone ms, subscription key prefix (`<prefix>:push:sub:`), most live subscriptions
    /// per device.
    /// Returns {id, expires ms (0 = never), label}: the new subscription, or the one an earlier run of the same
    /// device message created; or {''} when the device already has the most live subscriptions (dead ids are pruned
    /// from its set first). The subscriptions it reads by id are not in KEYS, but each is in the device's slot (the
    /// slot tag its id ends with), as Redis Cluster requires.
    static let subscribe = RedisScript(subKey + """
        local existing = redis.call('GET', KEYS[1])
        if existing then
          local s = redis.call('HMGET', subKey(existing), 'expires', 'label')
          return {existing, s[1] or '0', s[2] or ''}
        end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local max = tonumber(ARGV[8])
        if redis.call('SCARD', KEYS[3]) >= max then
          for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
            local s = redis.call('HMGET', subKey(id), 'state', 'expires')
            local e = tonumber(s[2]) or 0
            if s[1] ~= 'active' or (e > 0 and e <= now) then redis.call('SREM', KEYS[3], id) end
          end
          if redis.call('SCARD', KEYS[3]) >= max then return {''} end
        end
        local expires = 0
        local seconds = tonumber(ARGV[4])
        if seconds > 0 then expires = now + seconds * 1000 end
        redis.call('HSET', KEYS[2], 'device', ARGV[2], 'created', string.format('%d', now),
                   'expires', string.format('%d', expires), 'label', ARGV[3], 'state', 'active')
        if expires > 0 then redis.call('PEXPIREAT', KEYS[2], string.format('%d', expires + tonumber(ARGV[6]))) end
        redis.call('SADD', KEYS[3], ARGV[1])
        redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[5])
        return {ARGV[1], string.format('%d', expires), ARGV[3]}
        """)

    /// KEYS: subscription hash, the device's set. ARGV: device, id, tombstone ms.
    /// Marks the subscription `gone` (kept 30 days as a tombstone, so pushes get 410) if `device` owns it.
    /// Returns 1, or 0 when it does not exist or belongs to another device. Repeating it is harmless.
    static let unsubscribe = RedisScript("""
        if redis.call('HGET', KEYS[1], 'device') ~= ARGV[1] then return 0 end
        if redis.call('HGET', KEYS[1], 'state') ~= 'gone' then
          redis.call('HSET', KEYS[1], 'state', 'gone')
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
        end
        redis.call('SREM', KEYS[2], ARGV[2])
        return 1
        """)

    /// KEYS: subscription hash, this minute's rate counter. ARGV: limit per minute.
    /// Returns {'ok', device, label}, {'unknown'}, {'gone'} (unsubscribed or past `expires`) or {'limited'}.
    /// Only a push to a live subscription counts against its rate.
    static let authorize = RedisScript("""
        local s = redis.call('HMGET', KEYS[1], 'device', 'expires', 'label', 'state')
        if not s[1] then return {'unknown'} end
        if s[4] ~= 'active' then return {'gone'} end
        local expires = tonumber(s[2]) or 0
        if expires > 0 then
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          if now >= expires then return {'gone'} end
        end
        local n = redis.call('INCR', KEYS[2])
        if n == 1 then redis.call('PEXPIRE', KEYS[2], 120000) end
        if n > tonumber(ARGV[1]) then return {'limited'} end
        return {'ok', s[1], s[3] or ''}
        """)
}
