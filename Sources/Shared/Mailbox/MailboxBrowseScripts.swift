import Infrastructure

/// The scripts behind the mailbox's operator view (``Mailbox/list(device:after:limit:)``, ``Mailbox/summary(device:)``)
/// and its deletes (docs/redis-schema.md, "Mailbox"). Same keys and conventions as ``MailboxScripts``; each touches
/// one device's slot.
extension MailboxScripts {
    /// Finds up to `limit` live entries (not expired by `now`) after `from` (a ZRANGEBYSCORE bound) in zset `zset`,
    /// oldest first; returns them as a flat list of id, seq, head, payload bytes (head: the stored value without its
    /// payload), and whether a live entry follows the last. Reads only: expired entries are skipped, not removed.
    private static let browse = """
        local function browse(zset, entries, from, limit, now)
          local out, found, more = {}, 0, false
          while not more do
            local want = limit + 1 - found
            local batch = redis.call('ZRANGEBYSCORE', zset, from, '+inf', 'WITHSCORES', 'LIMIT', 0, want)
            for i = 1, #batch, 2 do
              local value = redis.call('HGET', entries, batch[i])
              if value then
                local e, s, c, p = string.match(value, '^(%-?%d+) (%d+) (%d+)[^\\n]*\\n()')
                if e and tonumber(e) > now then
                  if found == limit then more = true; break end
                  found = found + 1
                  local headEnd = math.min(#value, p - 1 + tonumber(s) + tonumber(c))
                  out[#out + 1] = batch[i]
                  out[#out + 1] = batch[i + 1]
                  out[#out + 1] = string.sub(value, 1, headEnd)
                  out[#out + 1] = #value - headEnd
                end
              end
            end
            if #batch < 2 * want then break end
            from = '(' .. batch[#batch]
          end
          return out, more
        end

        """

    /// KEYS: zset, entries. ARGV: after seq, limit. Returns {entries (as `browse`), 1 if more follow else 0}.
    static let list = RedisScript(prelude + browse + """
        local out, more = browse(KEYS[1], KEYS[2], '(' .. ARGV[1], tonumber(ARGV[2]), clock())
        return {out, more and 1 or 0}
        """)

    /// KEYS: zset, entries, meta. Returns {count, payload bytes, the oldest live entry (as `browse`, empty if none)}.
    /// Count and bytes include expired entries not removed yet, as ``depth`` does.
    static let summary = RedisScript(prelude + browse + """
        local oldest = browse(KEYS[1], KEYS[2], '-inf', 1, clock())
        return {redis.call('ZCARD', KEYS[1]), tonumber(redis.call('HGET', KEYS[3], 'bytes')) or 0, oldest}
        """)

    /// KEYS: zset, entries, meta, receipt (one device). ARGV: id. Removes the entry (expired or not) and marks its
    /// receipt `deleted`; returns 1, or 0 if it was not there. The caller removes the expiry index member.
    static let delete = RedisScript(prelude + """
        local value = take(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
        if not value then return 0 end
        if wantsReceipt(value) then markReceipt(KEYS[4], 'deleted', clock()) end
        return 1
        """)

    /// KEYS: zset, entries, meta. ARGV: the device's receipt key prefix. Removes every entry, sets `bytes` to 0 (the
    /// seq counter stays, so seqs keep growing) and marks their receipts `deleted`. Returns {how many entries were
    /// there, every id of the zset} (the caller removes their expiry index members).
    static let deleteAll = RedisScript(prelude + """
        local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
        local count, now = 0, nil
        for _, id in ipairs(ids) do
          local value = redis.call('HGET', KEYS[2], id)
          if value then
            count = count + 1
            if wantsReceipt(value) then
              now = now or clock()
              markReceipt(ARGV[1] .. id, 'deleted', now)
            end
          end
        end
        redis.call('DEL', KEYS[1], KEYS[2])
        if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], 'bytes', '0') end
        return {count, ids}
        """)
}
