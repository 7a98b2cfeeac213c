import Infrastructure

/// The Lua behind receipts (docs/redis-schema.md, "Receipts"): helpers that the mailbox scripts put in front of their
/// own, so each state is written in the same script call that causes it, and the one script of their own, which
/// records `delivered`.
///
/// A receipt is a hash: `state`, `updated`, `service`, `expires`, and as they happen `stored`, `delivered`, `edge`,
/// `acked`, `reason`. States rank waiting (1) < delivered (2) < the final ones (3); `mark` moves a receipt only to a
/// higher rank, so no late or repeated write takes it back.
enum ReceiptScripts {
    /// Needs `clock()` from the mailbox prelude only in the scripts that call it; these helpers take `now`.
    static let helpers = """
        local receiptRank = {waiting = 1, delivered = 2, acked = 3, expired = 3, refused = 3, deleted = 3}
        -- Moves the existing receipt at `key` to `state` if that ranks higher than where it stands; false when there is
        -- no receipt or it stays.
        local function markReceipt(key, state, now)
          local current = redis.call('HGET', key, 'state')
          if not current or (receiptRank[current] or 3) >= receiptRank[state] then return false end
          redis.call('HSET', key, 'state', state, 'updated', string.format('%d', now))
          return true
        end
        -- The store's first word on a receipt: creates it (kept until a day after the message's expiry, or after now
        -- if that is later) or, for a message routed again, moves it as `markReceipt` does.
        local function openReceipt(key, state, now, expires, service)
          if redis.call('EXISTS', key) == 1 then return markReceipt(key, state, now) end
          redis.call('HSET', key, 'state', state, 'updated', string.format('%d', now), 'service', service,
                     'expires', string.format('%d', expires))
          redis.call('PEXPIREAT', key, string.format('%d', math.max(expires, now) + 86400000))
          return true
        end
        -- True when a stored value carries the receipt mark (` r` after the three sizes in its header).
        local function wantsReceipt(value)
          return string.match(value, '^%-?%d+ %d+ %d+ r[ \\n]') ~= nil
        end

        """

    /// KEYS: one receipt. ARGV: edge. Moves the receipt to `delivered` (with `delivered` = now and `edge`) if it is
    /// `waiting`; returns 1 if it moved, 0 otherwise (no receipt, or already delivered or final).
    static let delivered = RedisScript(MailboxScripts.prelude + """
        local now = clock()
        if not markReceipt(KEYS[1], 'delivered', now) then return 0 end
        redis.call('HSET', KEYS[1], 'delivered', string.format('%d', now), 'edge', ARGV[1])
        return 1
        """)
}
