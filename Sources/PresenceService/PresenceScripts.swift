import Infrastructure
import Shared

/// The Lua scripts behind ``PresenceStore``; each runs atomically on the Redis server (docs/redis-schema.md,
/// "Presence").
///
/// Each script touches the keys of one hash tag only, as Redis Cluster requires: a device's (`{<device>}`: its entry,
/// its watchers, its rooms, and for `disconnect` its route in the registry), a watcher's, a room's or an edge's. What
/// spans tags (a room's members, the reverse side of a watch, an edge's set of online devices) is written or read by
/// ``PresenceStore`` with commands of their own, around the scripts. Times come from the Redis clock (`TIME`); numbers
/// are written with `%d`, since Lua 5.1 would print large ones in exponent form. Watches and memberships are sorted
/// sets scored by their expiry (Unix ms), so each lapses on its own 7 days after it was last renewed.
///
/// The device transition scripts (connect, disconnect, set, offline, edgeRestarted) get KEYS entry, watchers, rooms
/// and return `{notify, entry, watchers, rooms, extra}`: notify 1 or 0, the device's entry as
/// `{online, status, note, since, version}`, the live watchers and the live rooms of the device (the change goes to
/// each room's topic), and one more value each script documents.
enum PresenceScripts {
    /// Helpers shared by the scripts.
    private static let common = """
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
        local function notify(extra) return {1, entry(KEYS[1]), live(KEYS[2]), live(KEYS[3]), extra or ''} end
        local function quiet(extra) return {0, {}, {}, {}, extra or ''} end

        """

    /// KEYS: entry, watchers, rooms. ARGV: device, edge, session, epoch, entry TTL ms, the event's `at` ('' if
    /// absent), the edge's last start mark ('' if none), read by the store just before.
    /// An older epoch is ignored, and so is a connection made before its edge last started (an earlier process of that
    /// edge held it, so it has ended); the same epoch again re-announces the entry if the connection is still online (a
    /// repeated event) and is ignored if it already ended; a newer epoch makes the device online through `edge`,
    /// announcing it only if it was offline (a device moving between edges stays online). Extra: the edge the device
    /// was online through before, when another (the store takes it out of that edge's set).
    static let connect = RedisScript(common + """
        local edge, epoch, at, started = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
        if at and started and at < started then return quiet() end
        local cur = redis.call('HMGET', KEYS[1], 'online', 'epoch', 'edge', 'version')
        local stored = tonumber(cur[2])
        if stored and epoch < stored then return quiet() end
        if stored and epoch == stored then
          if cur[1] == '1' then return notify() end
          return quiet()
        end
        local left = ''
        if cur[3] and cur[3] ~= edge then left = cur[3] end
        redis.call('HSET', KEYS[1], 'online', '1', 'edge', edge, 'session', ARGV[3], 'epoch', ARGV[4], 'edge-at', fmt(at or 0))
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        if cur[1] == '1' then return quiet(left) end
        redis.call('HSET', KEYS[1], 'since', fmt(now), 'version', nextVersion(cur[4]))
        return notify(left)
        """)

    /// KEYS: entry, watchers, rooms, the device's route in the registry (`<prefix>:route:{<device>}`). ARGV: epoch,
    /// entry TTL ms.
    /// Only the connection the entry names (same epoch) can take the device offline; a repeat re-announces it. A route
    /// with a higher epoch means a newer connection already took over (its `connect` may still be on its way from
    /// another edge), so the device stays online. Extra: the edge it went offline from.
    static let disconnect = RedisScript(common + """
        local cur = redis.call('HMGET', KEYS[1], 'online', 'epoch', 'edge', 'version')
        if tonumber(cur[2]) ~= tonumber(ARGV[1]) then return quiet() end
        if cur[1] ~= '1' then return notify() end
        local newest = tonumber(redis.call('HGET', KEYS[4], 'epoch'))
        if newest and newest > tonumber(ARGV[1]) then return quiet() end
        redis.call('HSET', KEYS[1], 'online', '0', 'since', fmt(now), 'version', nextVersion(cur[4]))
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return notify(cur[3] or '')
        """)

    /// KEYS: entry, watchers, rooms. ARGV: status, note ('' for none), entry TTL ms.
    /// Bumps the version only if status or note changed; always announces (a repeat carries the same version).
    static let set = RedisScript(common + """
        local cur = redis.call('HMGET', KEYS[1], 'status', 'note', 'version')
        if (cur[1] or 'available') ~= ARGV[1] or (cur[2] or '') ~= ARGV[2] or not cur[3] then
          redis.call('HSET', KEYS[1], 'status', ARGV[1], 'version', nextVersion(cur[3]))
          if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'note') else redis.call('HSET', KEYS[1], 'note', ARGV[2]) end
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return notify()
        """)

    /// KEYS: entry, watchers, rooms. ARGV: edge. The edge died: the device goes offline if its entry still says it is
    /// online through that edge.
    static let offline = RedisScript(common + """
        local cur = redis.call('HMGET', KEYS[1], 'online', 'edge', 'version')
        if cur[1] ~= '1' or cur[2] ~= ARGV[1] then return quiet() end
        redis.call('HSET', KEYS[1], 'online', '0', 'since', fmt(now), 'version', nextVersion(cur[3]))
        return notify()
        """)

    /// KEYS: entry, watchers, rooms. ARGV: edge, the start's `at`.
    /// The edge restarted at `at`: a device still online there with a connection from before `at` (the earlier
    /// process's) goes offline, marked `gone-at` = `at`; one already marked by this same start (the event applied
    /// again) is announced again with the same version. Extra: 'drop' when the device no longer belongs in the edge's
    /// set (on another edge, or offline for another reason), 'keep' otherwise.
    static let edgeRestarted = RedisScript(common + """
        local edge, at = ARGV[1], tonumber(ARGV[2])
        local cur = redis.call('HMGET', KEYS[1], 'online', 'edge', 'version', 'edge-at', 'gone-at')
        if cur[2] ~= edge then return quiet('drop') end
        if cur[1] == '1' and (tonumber(cur[4]) or 0) < at then
          -- Kept in the set, marked with this start, so that applying the same event again announces it again.
          redis.call('HSET', KEYS[1], 'online', '0', 'since', fmt(now), 'version', nextVersion(cur[3]), 'gone-at', ARGV[2])
          return notify('keep')
        end
        if cur[1] ~= '1' and cur[5] == ARGV[2] then return notify('keep') end
        if cur[1] ~= '1' then return quiet('drop') end
        return quiet('keep')
        """)

    /// KEYS: the edge's start mark, the edge's online set. ARGV: the start's `at`, SSCAN cursor, count, TTL ms of the
    /// start mark. Records the start (the latest wins) and returns {next cursor, {devices}} for one SSCAN step.
    static let edgeStartedScan = RedisScript(common + """
        local previous = tonumber(redis.call('GET', KEYS[1]))
        if not previous or tonumber(ARGV[1]) > previous then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4]) end
        return redis.call('SSCAN', KEYS[2], ARGV[2], 'COUNT', ARGV[3])
        """)

    /// KEYS: the watcher's watching set. ARGV: watcher, TTL ms, max watched, devices...
    /// Returns {1, watched, expiry ms} (the store then adds the watcher to each device's watchers with that expiry) or,
    /// when the devices would take the watcher over the limit, {0, watched} and changes nothing.
    static let watch = RedisScript(common + """
        local ttl, max = tonumber(ARGV[2]), tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
        local count = redis.call('ZCARD', KEYS[1])
        local new = 0
        for i = 4, #ARGV do if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then new = new + 1 end end
        if count + new > max then return {0, count} end
        local expires = fmt(now + ttl)
        for i = 4, #ARGV do redis.call('ZADD', KEYS[1], expires, ARGV[i]) end
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ttl) end
        return {1, count + new, expires}
        """)

    /// KEYS: room. ARGV: device, TTL ms, max members.
    /// Returns {1, {other live members}, 1 if the device is new to the room else 0}, or {0} when the room is full
    /// (nothing changes).
    static let join = RedisScript(common + """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
        local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not known and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {0} end
        redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[2])), ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        local others = {}
        for _, d in ipairs(live(KEYS[1])) do if d ~= ARGV[1] then others[#others + 1] = d end end
        return {1, others, known and 0 or 1}
        """)

    /// KEYS: the device's rooms. ARGV: room, TTL ms, max rooms per device.
    /// Returns 1, or 0 when the device is in its most rooms already (nothing changes).
    static let enterRoom = RedisScript(common + """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
        redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[2])), ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
        """)

    /// KEYS: room. ARGV: device. Returns {was a member 1/0, {the live members left}}.
    static let leave = RedisScript(common + """
        local was = redis.call('ZREM', KEYS[1], ARGV[1])
        return {was, live(KEYS[1])}
        """)
}
