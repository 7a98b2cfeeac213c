/// The names of the gateway's own Redis keys (registry, mailboxes, edge liveness), in one place
/// (docs/redis-schema.md lists each with its slot rule).
///
/// Every key of one device carries the hash tag `{<device>}`, so all of them share one Redis Cluster slot and one
/// script may touch them together. The tag comes last and the parts before it never hold a brace, so whatever bytes a
/// device id holds, all keys of that device hash alike (an id holding `}` only shortens the tag, for all its keys).
/// Keys that are not a device's (edge liveness, the expiry index) carry no tag.
public struct RedisKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

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
    /// Zset: every waiting entry of every device, by expiry, for the sweeper.
    public var expiryIndex: String { "\(prefix):mbox-expiry" }
    /// String: an edge's liveness record (``EdgeRecord``), with a TTL its heartbeat renews.
    public func edge(_ edge: String) -> String { "\(prefix):edge:\(edge)" }

    /// What the mailbox keys start with before the device and its closing brace, for the sweep script, which
    /// builds a device's keys from an index member.
    var mailboxPrefix: String { "\(prefix):mbox:{" }
    var mailboxEntriesPrefix: String { "\(prefix):mbox-e:{" }
    var mailboxMetaPrefix: String { "\(prefix):mbox-m:{" }
}
