import Infrastructure

/// The names of the gateway's own Redis keys (registry, mailboxes, edge liveness), in one place
/// (docs/redis-schema.md lists each with its slot rule).
///
/// Every key of one device carries the hash tag `{<device>}`, so all of them share one Redis Cluster slot and one
/// script may touch them together. The tag comes last and the parts before it never hold a brace, so whatever bytes a
/// device id holds, all keys of that device hash alike (an id holding `}` only shortens the tag, for all its keys).
/// Keys that are not a device's carry no tag (edge liveness) or a tag of their own (the expiry index shards).
public struct RedisKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// Hash: the revocations in force, `device:<id>` or `kid:<kid>` → the rule as JSON (``Revocation``).
    public var revocations: String { "\(prefix):{revocations}" }
    /// Stream: one entry per change of the revocations, which every edge follows; same slot as the hash.
    public var revocationLog: String { "\(prefix):{revocations}:log" }
    /// Hash: the device's route (edge, session, epoch, since).
    public func route(_ device: String) -> String { "\(prefix):route:{\(device)}" }
    /// String: the device's last route epoch.
    public func epoch(_ device: String) -> String { "\(prefix):epoch:{\(device)}" }
    /// Zset: the device's mailbox entries, id → seq.
    public func mailbox(_ device: String) -> String { mailboxPrefix + device + "}" }
    /// Hash: the device's mailbox entries, id → stored value.
    public func mailboxEntries(_ device: String) -> String { mailboxEntriesPrefix + device + "}" }
    /// Hash: the device's mailbox counters (seq, bytes, until).
    public func mailboxMeta(_ device: String) -> String { mailboxMetaPrefix + device + "}" }
    /// Hash: the delivery receipt of message `id` of `device` (``Receipt``), in the device's slot. The device's byte
    /// count comes first, so no two (device, id) pairs share a key whatever bytes they hold.
    public func receipt(device: String, id: String) -> String { receiptPrefix(device) + id }
    /// What `device`'s receipt keys start with, before the message id: the mailbox scripts that expire entries build
    /// the receipt key from it and the id.
    public func receiptPrefix(_ device: String) -> String { "\(prefix):rcpt:\(device.utf8.count):{\(device)}" }
    /// Zset: the waiting entries of the devices whose slots fall in shard `shard`'s sixteenth of the slots, by expiry,
    /// for the sweeper. Each shard's tag puts it in that same sixteenth, so on a cluster a shard mostly lives on the
    /// node of its devices' mailboxes (no script touches both: they are written side by side).
    public func expiryIndex(shard: Int) -> String { "\(prefix):mbox-expiry:{\(Self.expiryShardTags[shard])}" }
    /// Every shard of the expiry index.
    public var expiryIndexShards: [String] { (0..<Self.expiryShards).map { expiryIndex(shard: $0) } }
    /// The shard of the expiry index that holds `device`'s entries.
    public func expiryIndex(device: String) -> String {
        expiryIndex(shard: RedisKeySlot.slot(of: mailbox(device)) * Self.expiryShards / RedisKeySlot.count)
    }

    /// How many shards the expiry index has: few, so that a sweep asks little, but enough to spread over the primaries
    /// of any cluster worth running.
    public static let expiryShards = 16
    /// For each shard, the first tag `e0`, `e1`, … whose slot falls in that shard's sixteenth of the slots.
    static let expiryShardTags: [String] = (0..<expiryShards).map { shard in
        let range = (shard * RedisKeySlot.count / expiryShards)..<((shard + 1) * RedisKeySlot.count / expiryShards)
        return (0...).lazy.map { "e\($0)" }.first { range.contains(RedisKeySlot.slot(of: $0)) }!
    }
    /// String: an edge's liveness record (``EdgeRecord``), with a TTL its heartbeat renews.
    public func edge(_ edge: String) -> String { "\(prefix):edge:\(edge)" }

    /// What the mailbox keys start with before the device and its closing brace, for the sweep script, which
    /// builds a device's keys from an index member.
    var mailboxPrefix: String { "\(prefix):mbox:{" }
    var mailboxEntriesPrefix: String { "\(prefix):mbox-e:{" }
    var mailboxMetaPrefix: String { "\(prefix):mbox-m:{" }
}
