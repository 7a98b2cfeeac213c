import Infrastructure
/// The Lua scripts behind `Mailbox`; each runs atomically on the Redis server (docs/redis-schema.md, "Mailbox").
///
/// "Now" is the Redis server clock (`TIME`), so all routers and edges agree on what has expired. Numbers are
/// written with `%d` because Lua 5.1 would print large numbers in exponent form. Every seq (about 1.7e15) and
/// every time in ms fits a double exactly.
///
/// Per device the scripts get KEYS zset (`<prefix>:mbox:{<device>}`), entries (`<prefix>:mbox-e:{<device>}`) and
/// meta (`<prefix>:mbox-m:{<device>}`), in that order; store adds the route. Each script touches one slot only, as Redis
/// Cluster requires: a device's keys, or one shard of the expiry index (`<prefix>:mbox-expiry:{e<n>}`), which the caller
/// writes with commands of their own beside the device's scripts.
enum MailboxScripts {
    /// Shared helpers, put in front of each script (the receipt helpers included).
    static let prelude = """
        local function clock()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        -- A stored value is "<expiresAtMs> <service bytes> <content type bytes>\\n" .. service .. type .. payload.
        -- Returns its expiry and payload size; a malformed value reads as long expired with no payload.
        local function parse(value)
          local e, s, c, p = string.match(value, '^(%-?%d+) (%d+) (%d+)[^\\n]*\\n()')
          if not e then return 0, 0 end
          return tonumber(e), math.max(0, #value - p + 1 - tonumber(s) - tonumber(c))
        end
        -- Deletes one entry from the device's keys and takes its payload off the byte count (if the meta hash is still
        -- there: writing to a vanished one would recreate it without a TTL).
        local function remove(zset, entries, meta, id, size)
          redis.call('ZREM', zset, id)
          redis.call('HDEL', entries, id)
          local bytes = tonumber(redis.call('HGET', meta, 'bytes'))
          if bytes then redis.call('HSET', meta, 'bytes', string.format('%d', math.max(0, bytes - size))) end
        end
        -- Deletes entry `id` if it is there and returns its stored value; nil if it was not (a zset member without an
        -- entry is dropped too).
        local function take(zset, entries, meta, id)
          local value = redis.call('HGET', entries, id)
          if not value then
            redis.call('ZREM', zset, id)
            return nil
          end
          local _, size = parse(value)
          remove(zset, entries, meta, id, size)
          return value
        end

        """ + ReceiptScripts.helpers

    /// Stores a message and reads its device's route in the same step, so the router learns where to hand it off
    /// without a second script. KEYS: zset, entries, meta, route (all of one device: one hash tag). ARGV: id,
    /// expiresAtMs, stored value, payload bytes, max count, max bytes, key grace ms. Returns {'stored', seq, route…},
    /// {'duplicate', seq, route…}, {'full'} or {'expired'}, where route… is edge, session, epoch, since (absent
    /// without a route). The expiry index lives in another slot, so the caller adds the entry to it with a command
    /// of its own in the same pipeline. A message that asks for a receipt adds KEYS receipt and ARGV service: the
    /// receipt is opened `waiting` (stored), `refused` (full, reason `mailbox_full`) or `expired` (reason
    /// `on_arrival`); a duplicate leaves it alone.
    static let store = RedisScript(prelude + """
        local function withRoute(result)
          local r = redis.call('HMGET', KEYS[4], 'edge', 'session', 'epoch', 'since')
          if r[1] then
            for i = 1, 4 do result[#result + 1] = r[i] end
          end
          return result
        end
        local now = clock()
        local existing = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if existing then return withRoute({'duplicate', tonumber(existing)}) end
        local expires = tonumber(ARGV[2])
        -- Opens the receipt, if the message asked for one, in `state`, with `field` = `value` when it moved.
        local function receipt(state, field, value)
          if #KEYS >= 5 and openReceipt(KEYS[5], state, now, expires, ARGV[8]) and field then
            redis.call('HSET', KEYS[5], field, value)
          end
        end
        if expires <= now then
          receipt('expired', 'reason', 'on_arrival')
          return {'expired'}
        end
        local size = tonumber(ARGV[4])
        local meta = redis.call('HMGET', KEYS[3], 'seq', 'bytes', 'until', 'ttl-at')
        local bytes = tonumber(meta[2]) or 0
        local count = redis.call('ZCARD', KEYS[1])
        if count + 1 > tonumber(ARGV[5]) or bytes + size > tonumber(ARGV[6]) then
          receipt('refused', 'reason', 'mailbox_full')
          return {'full'}
        end
        -- A missing counter (the mailbox expired, or Redis lost its data) restarts from the clock in ms × 1000,
        -- above any seq handed out before; nor may it fall to or below an entry still in the zset.
        local last = tonumber(meta[1])
        local seq
        if last then
          seq = last + 1
        else
          seq = now * 1000
          local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
          if top[2] and seq <= tonumber(top[2]) then seq = tonumber(top[2]) + 1 end
        end
        local untilMs = math.max(tonumber(meta[3]) or 0, expires)
        local s = string.format('%d', seq)
        redis.call('ZADD', KEYS[1], s, ARGV[1])
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
        -- The keys' expiry moves in steps of a minute (or of the grace, if shorter), so most stores leave it alone;
        -- an empty mailbox's zset and entries hash (and a missing meta hash) are new keys and always get it.
        local ttlAt = tonumber(meta[4]) or 0
        local grace = tonumber(ARGV[7])
        local due = untilMs + grace
        local refresh = count == 0 or not last or due > ttlAt
        if refresh then
          local step = math.min(60000, grace)
          ttlAt = math.ceil(due / step) * step
        end
        redis.call('HSET', KEYS[3], 'seq', s, 'bytes', string.format('%d', bytes + size),
                   'until', string.format('%d', untilMs), 'ttl-at', string.format('%d', ttlAt))
        if refresh then
          local at = string.format('%d', ttlAt)
          for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], at) end
        end
        receipt('waiting', 'stored', string.format('%d', now))
        return withRoute({'stored', seq})
        """)

    /// KEYS: zset, entries, meta. ARGV: after seq, limit, receipt key prefix of the device (``RedisKeys/receiptPrefix(_:)``).
    /// Returns {live, expired}, each a flat list of id, seq, stored value, oldest first. Expired entries met on
    /// the way are deleted and do not count towards the limit, so fewer than `limit` live entries means there are
    /// no more after them. The caller takes the expired ones' members out of the expiry index (another slot). An expired
    /// entry that asked for a receipt marks it `expired` (the receipt key is built from the prefix: same slot).
    static let read = RedisScript(prelude + """
        local now = clock()
        local limit = tonumber(ARGV[2])
        local live, expired, found = {}, {}, 0
        local from = '(' .. ARGV[1]
        while found < limit do
          local want = limit - found
          local batch = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, want)
          for i = 1, #batch, 2 do
            local id, seq = batch[i], tonumber(batch[i + 1])
            local value = redis.call('HGET', KEYS[2], id)
            if not value then
              redis.call('ZREM', KEYS[1], id)
            else
              local expires, size = parse(value)
              local list = live
              if expires <= now then
                remove(KEYS[1], KEYS[2], KEYS[3], id, size)
                if wantsReceipt(value) then markReceipt(ARGV[3] .. id, 'expired', now) end
                list = expired
              else
                found = found + 1
              end
              list[#list + 1] = id
              list[#list + 1] = seq
              list[#list + 1] = value
            end
          end
          if #batch < 2 * want then break end
          from = '(' .. string.format('%d', tonumber(batch[#batch]))
        end
        return {live, expired}
        """)

    /// KEYS: zset, entries, meta, receipt (one device). ARGV: id. Deletes the entry; returns 1, or 0 if it was not
    /// there. An entry that asked for a receipt marks it `acked` (with `acked` = now) and, if that moved it, returns
    /// its stored value instead of 1, for the edge's `acked` report. Entries without a receipt never touch the
    /// receipt key. The caller removes the entry's expiry index member with a command of its own (another slot).
    static let ack = RedisScript(prelude + """
        local value = take(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
        if not value then return 0 end
        if wantsReceipt(value) then
          local now = clock()
          if markReceipt(KEYS[4], 'acked', now) then
            redis.call('HSET', KEYS[4], 'acked', string.format('%d', now))
            return value
          end
        end
        return 1
        """)

    /// KEYS: zset, meta. Returns {count, payload bytes}.
    static let depth = RedisScript("""
        return {redis.call('ZCARD', KEYS[1]), tonumber(redis.call('HGET', KEYS[2], 'bytes')) or 0}
        """)

    /// KEYS: one shard of the expiry index. ARGV: limit. Returns a flat list of member, expiry (ms) for up to `limit`
    /// members due by now, most overdue first, and leaves them in place: ``expire`` decides, per device, what is really
    /// gone, so that two sweepers reading the same members still report each entry once.
    static let due = RedisScript(prelude + """
        return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', clock()), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
        """)

    /// KEYS: zset, entries, meta (one device). ARGV: the device's receipt key prefix, then the ids the expiry index says
    /// are due. An expired entry that asked for a receipt marks it `expired`. Per id, in order, three values:
    /// `removed`, seq, stored value (it had expired: deleted now, by this call only); `later`, its real expiry, '' (not
    /// expired by this node's clock: the index was out of step); or `gone`, 0, '' (acked, or the keys expired).
    static let expire = RedisScript(prelude + """
        local now = clock()
        local out = {}
        for i = 2, #ARGV do
          local id = ARGV[i]
          local value = redis.call('HGET', KEYS[2], id)
          if not value then
            redis.call('ZREM', KEYS[1], id)
            out[#out + 1] = 'gone'; out[#out + 1] = 0; out[#out + 1] = ''
          else
            local expires, size = parse(value)
            if expires > now then
              out[#out + 1] = 'later'; out[#out + 1] = string.format('%d', expires); out[#out + 1] = ''
            else
              local seq = tonumber(redis.call('ZSCORE', KEYS[1], id)) or 0
              remove(KEYS[1], KEYS[2], KEYS[3], id, size)
              if wantsReceipt(value) then markReceipt(ARGV[1] .. id, 'expired', now) end
              out[#out + 1] = 'removed'; out[#out + 1] = seq; out[#out + 1] = value
            end
          end
        end
        return out
        """)
}
