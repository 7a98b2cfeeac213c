/// A cluster node's answer that a key's slot is served elsewhere: `MOVED <slot> <host>:<port>` (the slot has moved
/// for good: refresh the slot map) or `ASK <slot> <host>:<port>` (the slot is migrating: send this one command to
/// that node, preceded by `ASKING`, and keep the map).
public struct RedisRedirect: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case moved
        case ask
    }

    public var kind: Kind
    public var slot: Int
    public var node: RedisSlotMap.Node

    public init(kind: Kind, slot: Int, node: RedisSlotMap.Node) {
        self.kind = kind
        self.slot = slot
        self.node = node
    }

    /// Reads an error reply; nil when it is not a redirect (or not a well-formed one). IPv6 hosts keep their colons:
    /// the port is what follows the last one.
    public init?(errorMessage: String) {
        let parts = errorMessage.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), (0..<RedisKeySlot.count).contains(slot),
              let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        // An empty host means "the node you asked" in Redis 7's announcements; the caller substitutes it.
        node = RedisSlotMap.Node(host: String(parts[2][..<colon]), port: port)
    }
}
