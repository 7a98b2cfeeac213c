import Infrastructure
import Shared

/// The Lua scripts behind ``PresenceStore``; each runs atomically on the Redis server (docs/redis-schema.md,
/// "Presence").
///
/// Every script gets the key prefix `<prefix>:presence:` as ARGV[1] and derives the keys it cannot know in advance
/// (the watchers and rooms of a device, the members of a room) from it, which ties presence, like the registry, to a
/// single Redis primary. Times come from the Redis clock (`TIME`); numbers are written with `%d`, since Lua 5.1 would
/// print large ones in exponent form. Watches and memberships are sorted sets scored by their expiry (Unix ms), so each
/// lapses on its own 7 days after it was last renewed.
///
/// The transition scripts (connect, disconnect, set, sweep) return `{notify, entry, recipients}`: notify 1 or 0, the
/// device's entry as `{online, status, note, since, version}`, and every device that watches it, explicitly or through
/// a room it shares, itself excluded, each once.
enum PresenceScripts {
    /// Helpers shared by the scripts.
    private static let common = """
        local P = ARGV[1]
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function fmt(n) return string.format('%d', n) end
        -- Versions start from the clock, so an entry created again after it expired never repeats an old version.
        local function nextVersion(v) local n = tonumber(v); if n then return fmt(n + 1) end; return fmt(now) end
        local function entry(key)
          local e = redis.call('HMGET', key, 'online', 'status', 'note', 'since', 'version')
          return {e[1] or '0', e[2] or 'available', e[3] or '', e[4] or '0', e[5] or '0'}
        end
        local function live(key) return redis.call('ZRANGEBYSCORE', key, '(' .. fmt(now), '+inf') end
        local function recipients(device)
          local seen, out = {}, {}
          local function add(d) if d ~= device and not seen[d] then seen[d] = true; out[#out + 1] = d end end
          for _, d in ipairs(live(P .. 'watchers:' .. device)) do add(d) end
          for _, room in ipairs(live(P .. 'rooms:' .. device)) do
            for _, d in ipairs(live(P .. 'room:' .. room)) do add(d) end
          end
          return out
        end
        local function notify(device, key) return {1, entry(key), recipients(device)} end
        """

    /// KEYS: dev. ARGV: P, device, edge, session, epoch, entry TTL ms, the event's `at` ('' if absent).
    /// An older epoch is ignored, and so is a connection made before its edge last started (an earlier process of that
    /// edge held it, so it has ended); the same epoch again re-announces the entry if the connection is still online (a
    /// repeated event) and is ignored if it already ended; a newer epoch makes the device online through `edge`,
    /// announcing it only if it was offline (a device moving between edges stays online).
    static let connect = RedisScript(common + "\n" + """
        local device, edge, epoch, at = ARGV[2], ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[7])
        local started = tonumber(redis.call('GET', P .. 'started:' .. edge))
        if at and started and at < started then return {0} end
        local cur = redis.call('HMGET', KEYS[1], 'online', 'epoch', 'edge', 'version')
        local stored = tonumber(cur[2])
        if stored and epoch < stored then return {0} end
        if stored and epoch == stored then
          if cur[1] == '1' then return notify(device, KEYS[1]) end
          return {0}
        end
        if cur[3] and cur[3] ~= edge then redis.call('SREM', P .. 'on:' .. cur[3], device) end
        redis.call('HSET', KEYS[1], 'online', '1', 'edge', edge, 'session', ARGV[4], 'epoch', ARGV[5], 'edge-at', fmt(at or 0))
        redis.call('SADD', P .. 'on:' .. edge, device)
        redis.call('SADD', P .. 'edges', edge)
        redis.call('PEXPIRE', KEYS[1], ARGV[6])
        if cur[1] == '1' then return {0} end
        redis.call('HSET', KEYS[1], 'since', fmt(now), 'version', nextVersion(cur[4]))
        return notify(device, KEYS[1])
        """)

    /// KEYS: dev, the device's route in the registry (`<prefix>:route:{<device>}`). ARGV: P, device, epoch, entry TTL ms.
    /// Only the connection the entry names (same epoch) can take the device offline; a repeat re-announces it. A route
    /// with a higher epoch means a newer connection already took over (its `connect` may still be on its way from
    /// another edge), so the device stays online.
    static let disconnect = RedisScript(common + "\n" + """
        local device = ARGV[2]
        local cur = redis.call('HMGET', KEYS[1], 'online', 'epoch', 'edge', 'version')
        if tonumber(cur[2]) ~= tonumber(ARGV[3]) then return {0} end
        if cur[1] ~= '1' then return notify(device, KEYS[1]) end
        local newest = tonumber(redis.call('HGET', KEYS[2], 'epoch'))
        if newest and newest > tonumber(ARGV[3]) then return {0} end
        redis.call('HSET', KEYS[1], 'online', '0', 'since', fmt(now), 'version', nextVersion(cur[4]))
        if cur[3] then redis.call('SREM', P .. 'on:' .. cur[3], device) end
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return notify(device, KEYS[1])
        """)

    /// KEYS: dev. ARGV: P, device, status, note ('' for none), entry TTL ms.
    /// Bumps the version only if status or note changed; always announces (a repeat carries the same version).
    static let set = RedisScript(common + "\n" + """
        local cur = redis.call('HMGET', KEYS[1], 'status', 'note', 'version')
        if (cur[1] or 'available') ~= ARGV[3] or (cur[2] or '') ~= ARGV[4] or not cur[3] then
          redis.call('HSET', KEYS[1], 'status', ARGV[3], 'version', nextVersion(cur[3]))
          if ARGV[4] == '' then redis.call('HDEL', KEYS[1], 'note') else redis.call('HSET', KEYS[1], 'note', ARGV[4]) end
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        return notify(ARGV[2], KEYS[1])
        """)

    /// KEYS: the watcher's watching set. ARGV: P, watcher, TTL ms, max watched, devices...
    /// Returns {1, watched} or, when the devices would take the watcher over the limit, {0, watched} and changes nothing.
    static let watch = RedisScript(common + "\n" + """
        local ttl, max = tonumber(ARGV[3]), tonumber(ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
        local count = redis.call('ZCARD', KEYS[1])
        local new = 0
        for i = 5, #ARGV do if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then new = new + 1 end end
        if count + new > max then return {0, count} end
        local expires = fmt(now + ttl)
        for i = 5, #ARGV do
          local watchers = P .. 'watchers:' .. ARGV[i]
          redis.call('ZADD', KEYS[1], expires, ARGV[i])
          redis.call('ZREMRANGEBYSCORE', watchers, '-inf', fmt(now))
          redis.call('ZADD', watchers, expires, ARGV[2])
          redis.call('PEXPIRE', watchers, ttl)
        end
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ttl) end
        return {1, count + new}
        """)

    /// KEYS: the watcher's watching set. ARGV: P, watcher, devices... Drops the watches both ways.
    static let unwatch = RedisScript(common + "\n" + """
        for i = 3, #ARGV do
          redis.call('ZREM', KEYS[1], ARGV[i])
          redis.call('ZREM', P .. 'watchers:' .. ARGV[i], ARGV[2])
        end
        return 1
        """)

    /// KEYS: room, the device's rooms. ARGV: P, device, room, TTL ms, max members, max rooms per device.
    /// Returns {1, {other live members}}, or {0, 'room'} / {0, 'rooms'} when a limit refuses it (nothing changes).
    static let join = RedisScript(common + "\n" + """
        local device, room, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(now))
        if not redis.call('ZSCORE', KEYS[1], device) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return {0, 'room'} end
        if not redis.call('ZSCORE', KEYS[2], room) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return {0, 'rooms'} end
        local expires = fmt(now + ttl)
        redis.call('ZADD', KEYS[1], expires, device)
        redis.call('ZADD', KEYS[2], expires, room)
        redis.call('PEXPIRE', KEYS[1], ttl)
        redis.call('PEXPIRE', KEYS[2], ttl)
        local others = {}
        for _, d in ipairs(live(KEYS[1])) do if d ~= device then others[#others + 1] = d end end
        return {1, others}
        """)

    /// KEYS: room, the device's rooms. ARGV: P, device, room.
    /// Returns {was a member 1/0, {the live members left}}.
    static let leave = RedisScript(common + "\n" + """
        local was = redis.call('ZREM', KEYS[1], ARGV[2])
        redis.call('ZREM', KEYS[2], ARGV[3])
        return {was, live(KEYS[1])}
        """)

    /// KEYS: the edge's liveness key (`<prefix>:edge:<edge>`), its online set, the set of edges. ARGV: P, edge, batch.
    /// If the liveness key is gone: takes up to `batch` devices out of the edge's set and makes offline each whose
    /// entry still names that edge and is online; drops the edge from the edges set once its set is empty.
    /// Returns {devices left in the edge's set, {{device, entry, recipients}...}} for the devices it made offline;
    /// {0, {}} while the edge is alive.
    static let sweep = RedisScript(common + "\n" + """
        local edge = ARGV[2]
        if redis.call('EXISTS', KEYS[1]) == 1 then return {0, {}} end
        local out = {}
        for _, device in ipairs(redis.call('SPOP', KEYS[2], tonumber(ARGV[3]))) do
          local key = P .. 'dev:' .. device
          local cur = redis.call('HMGET', key, 'online', 'edge', 'version')
          if cur[1] == '1' and cur[2] == edge then
            redis.call('HSET', key, 'online', '0', 'since', fmt(now), 'version', nextVersion(cur[3]))
            out[#out + 1] = {device, entry(key), recipients(device)}
          end
        end
        local left = redis.call('SCARD', KEYS[2])
        if left == 0 then redis.call('SREM', KEYS[3], edge) end
        return {left, out}
        """)

    /// KEYS: the edge's online set, the set of edges. ARGV: P, edge, the start event's `at`, SSCAN cursor, count,
    /// TTL ms of the edge's start mark.
    /// The edge started at `at`: records it (`P started:<edge>`, the latest start wins), then, for one SSCAN step over the
    /// edge's online set, makes offline each device whose entry still names the edge with a connection from before `at`
    /// (the earlier process's), marking it `gone-at` = `at` and leaving it in the set; a device already marked by this
    /// same start (the event applied again) is announced again with the same version; other devices no longer online
    /// there leave the set. Returns {next cursor, {{device, entry, recipients}...}}; the caller goes on until the cursor
    /// is "0".
    static let edgeStarted = RedisScript(common + "\n" + """
        local edge, at = ARGV[2], tonumber(ARGV[3])
        local startedKey = P .. 'started:' .. edge
        local previous = tonumber(redis.call('GET', startedKey))
        if not previous or at > previous then redis.call('SET', startedKey, ARGV[3], 'PX', ARGV[6]) end
        local scan = redis.call('SSCAN', KEYS[1], ARGV[4], 'COUNT', ARGV[5])
        local out = {}
        for _, device in ipairs(scan[2]) do
          local key = P .. 'dev:' .. device
          local cur = redis.call('HMGET', key, 'online', 'edge', 'version', 'edge-at', 'gone-at')
          if cur[2] ~= edge then
            redis.call('SREM', KEYS[1], device)
          elseif cur[1] == '1' and (tonumber(cur[4]) or 0) < at then
            -- Kept in the set, marked with this start, so that applying the same event again announces it again.
            redis.call('HSET', key, 'online', '0', 'since', fmt(now), 'version', nextVersion(cur[3]), 'gone-at', ARGV[3])
            out[#out + 1] = {device, entry(key), recipients(device)}
          elseif cur[1] ~= '1' and cur[5] == ARGV[3] then
            out[#out + 1] = {device, entry(key), recipients(device)}
          elseif cur[1] ~= '1' then
            redis.call('SREM', KEYS[1], device)
          end
        end
        if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], edge) end
        return {scan[1], out}
        """)
}
