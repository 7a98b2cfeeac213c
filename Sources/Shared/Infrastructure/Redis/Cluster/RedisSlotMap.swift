/// Which primary serves each of Redis Cluster's hash slots, read from a `CLUSTER SLOTS` reply.
///
/// Guarantees: built only from a well-formed reply (anything else throws a ``RedisError`` that says what was wrong);
/// a slot no range covers has no primary, and ``primary(forSlot:)`` says so rather than guessing. Replicas are kept
/// per range, for the failover and `WAIT` bookkeeping.
public struct RedisSlotMap: Sendable, Equatable {
    /// One node as the cluster announces it.
    public struct Node: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        /// The node's cluster id (40 hex characters), when announced.
        public var id: String?

        public init(host: String, port: Int, id: String? = nil) {
            self.host = host
            self.port = port
            self.id = id
        }

        public var description: String { "\(host):\(port)" }
    }

    /// A range of slots and the nodes that serve it.
    public struct Range: Sendable, Equatable {
        public var slots: ClosedRange<Int>
        public var primary: Node
        public var replicas: [Node]
    }

    public private(set) var ranges: [Range]
    /// For each slot, the index of its range in `ranges`, or -1 when no range covers it.
    private var owner: [Int16]

    /// Reads a `CLUSTER SLOTS` reply: an array of `[start, end, [host, port, id, …], replica…]`.
    /// - Throws: ``RedisError`` (not a connection error) naming the part of the reply that is malformed.
    public init(clusterSlots reply: RedisValue) throws {
        guard let entries = reply.array else { throw Self.malformed("not an array: \(reply)") }
        var ranges: [Range] = []
        var owner = [Int16](repeating: -1, count: RedisKeySlot.count)
        for (position, entry) in entries.enumerated() {
            guard let fields = entry.array, fields.count >= 3,
                  let start = fields[0].int, let end = fields[1].int,
                  start >= 0, end < RedisKeySlot.count, start <= end else {
                throw Self.malformed("entry \(position) is not [start, end, primary, replicas…] with 0 ≤ start ≤ end < 16384: \(entry)")
            }
            let primary = try Self.node(fields[2], entry: position)
            let replicas = try fields.dropFirst(3).map { try Self.node($0, entry: position) }
            let index = Int16(ranges.count)
            for slot in Int(start)...Int(end) {
                guard owner[slot] == -1 else { throw Self.malformed("slot \(slot) is in two ranges") }
                owner[slot] = index
            }
            ranges.append(Range(slots: Int(start)...Int(end), primary: primary, replicas: replicas))
        }
        self.ranges = ranges
        self.owner = owner
    }

    /// The primary serving `slot`, or nil when the cluster has none for it (then fail fast, do not guess).
    public func primary(forSlot slot: Int) -> Node? {
        guard (0..<RedisKeySlot.count).contains(slot), owner[slot] >= 0 else { return nil }
        return ranges[Int(owner[slot])].primary
    }

    /// Every primary, once each, in the order of the ranges.
    public var primaries: [Node] {
        var seen = Set<Node>()
        return ranges.map(\.primary).filter { seen.insert($0).inserted }
    }

    /// How many slots have a primary (16,384 when the cluster covers them all).
    public var coveredSlots: Int { ranges.reduce(0) { $0 + $1.slots.count } }

    private static func node(_ value: RedisValue, entry: Int) throws -> Node {
        guard let fields = value.array, fields.count >= 2, let host = fields[0].string, let port = fields[1].int,
              (1...65_535).contains(port) else {
            throw malformed("entry \(entry) has a node that is not [host, port, id…]: \(value)")
        }
        return Node(host: host, port: Int(port), id: fields.count > 2 ? fields[2].string : nil)
    }

    private static func malformed(_ what: String) -> RedisError {
        .reply("malformed CLUSTER SLOTS reply: \(what)")
    }
}
