import Testing

@testable import Infrastructure

/// What a Redis Cluster client computes without a connection: key slots, the slot map, redirects. Checked against the
/// specification's vector, slots a cluster node gave, and a recorded `CLUSTER SLOTS` reply (RedisClusterNodeTests
/// checks the same against a live node).
@Suite("Redis Cluster slots")
struct RedisClusterMapTests {
    @Test func crc16IsXmodem() {
        #expect(RedisKeySlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisKeySlot.crc16([]) == 0)
    }

    /// Slots `CLUSTER KEYSLOT` gave on redis-server 7.0, hash tags included.
    @Test(arguments: [
        ("foo", 12182), ("bar", 5061), ("somekey", 11058), ("hello", 866), ("{user1000}.following", 3443),
        ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061), ("{bar", 4015), ("", 0),
        ("123456789", 12739), ("a{}", 6082), ("{}b", 6680), ("{x}", 16287),
    ])
    func slotsMatchRedis(key: String, slot: Int) {
        #expect(RedisKeySlot.slot(of: key) == slot)
    }

    @Test func keysSharingATagShareASlot() {
        #expect(RedisKeySlot.slot(of: "cg:route:{d-1}") == RedisKeySlot.slot(of: "cg:mbox:{d-1}"))
        #expect(RedisKeySlot.slot(of: "cg:route:{d-1}") == RedisKeySlot.slot(of: "d-1"))
    }

    @Test func everySlotHasAThreeCharacterTag() {
        for slot in 0..<RedisKeySlot.count {
            let tag = RedisKeySlot.tag(forSlot: slot)
            #expect(tag.utf8.count == 3 && RedisKeySlot.slot(of: "p:push:sub:{\(tag)}random") == slot, "slot \(slot): \(tag)")
        }
        #expect(RedisKeySlot.tag(forSlot: RedisKeySlot.slot(of: "AAA")) == "AAA", "the first in alphabet order")
    }

    /// A recorded reply of a 3-primary, 3-replica cluster (redis-server 7.0, `redis-cli --cluster create`).
    static let recorded: RedisValue = .array([
        slots(0, 5460, primary: 17201, "41a2b0eb11190d88043dd355fb7b535587f79faa", replica: 17204, "dc87ff96ae0678f49a3dc62e43f2dad7b74d11f8"),
        slots(5461, 10922, primary: 17202, "50b1ad4804dcc9378a62e035d2b178dd9bfbd72b", replica: 17205, "f58d3b32bd42ac24ee4d48331435a48fc1aa4cf9"),
        slots(10923, 16383, primary: 17203, "0ea68fae504acf047ca7d02006b12ce0e202e6c1", replica: nil, nil),
    ])

    static func slots(_ start: Int64, _ end: Int64, primary: Int64, _ id: String, replica: Int64?, _ replicaID: String?) -> RedisValue {
        func node(_ port: Int64, _ id: String) -> RedisValue {
            .array([.bulk(Array("127.0.0.1".utf8)), .integer(port), .bulk(Array(id.utf8)), .array([])])
        }
        return .array([.integer(start), .integer(end), node(primary, id)] + (replica.map { [node($0, replicaID!)] } ?? []))
    }

    @Test func aRecordedReplyMapsEverySlotToItsPrimary() throws {
        let map = try RedisSlotMap(clusterSlots: Self.recorded)
        #expect(map.coveredSlots == 16_384)
        #expect(map.primary(forSlot: 0)?.port == 17201)
        #expect(map.primary(forSlot: 5460)?.port == 17201)
        #expect(map.primary(forSlot: 5461)?.port == 17202)
        #expect(map.primary(forSlot: RedisKeySlot.slot(of: "foo"))?.description == "127.0.0.1:17203")
        #expect(map.primaries.map(\.port) == [17201, 17202, 17203])
        #expect(map.ranges[0].replicas.map(\.port) == [17204])
        #expect(map.ranges[2].replicas.isEmpty)
        #expect(map.primary(forSlot: 16_384) == nil && map.primary(forSlot: -1) == nil)
    }

    @Test func aSlotNoRangeCoversHasNoPrimary() throws {
        let map = try RedisSlotMap(clusterSlots: .array([Self.slots(0, 99, primary: 7000, "a", replica: nil, nil)]))
        #expect(map.primary(forSlot: 99)?.port == 7000)
        #expect(map.primary(forSlot: 100) == nil)
        #expect(map.coveredSlots == 100)
    }

    @Test(arguments: [
        (RedisValue.status("OK"), "not an array"),
        (.array([.array([.integer(0), .integer(16384), .array([.bulk(Array("h".utf8)), .integer(1)])])]), "entry 0 is not"),
        (.array([.array([.integer(5), .integer(1), .array([.bulk(Array("h".utf8)), .integer(1)])])]), "entry 0 is not"),
        (.array([.array([.integer(0), .integer(1), .array([.bulk(Array("h".utf8))])])]), "entry 0 has a node"),
        (.array([.array([.integer(0), .integer(1), .array([.bulk(Array("h".utf8)), .integer(0)])])]), "entry 0 has a node"),
        (.array([.array([.integer(0), .integer(10), .array([.bulk(Array("h".utf8)), .integer(1)])]),
                 .array([.integer(10), .integer(20), .array([.bulk(Array("h".utf8)), .integer(2)])])]), "slot 10 is in two ranges"),
    ])
    func aMalformedReplyIsAClearError(reply: RedisValue, says: String) {
        let error = #expect(throws: RedisError.self) { try RedisSlotMap(clusterSlots: reply) }
        #expect(error?.message.hasPrefix("malformed CLUSTER SLOTS reply: \(says)") == true, "\(error?.message ?? "")")
        #expect(error?.isConnectionError == false)
    }

    @Test func redirectsAreRead() {
        #expect(RedisRedirect(errorMessage: "MOVED 12182 127.0.0.1:17203")
                == RedisRedirect(kind: .moved, slot: 12182, node: .init(host: "127.0.0.1", port: 17203)))
        #expect(RedisRedirect(errorMessage: "ASK 3999 ::1:7002")
                == RedisRedirect(kind: .ask, slot: 3999, node: .init(host: "::1", port: 7002)))
        for notOne in ["ERR unknown command", "MOVED 16384 h:1", "MOVED 1 h", "MOVED x h:1", "ASK 1 h:0", "NOSCRIPT 1 h:1", ""] {
            #expect(RedisRedirect(errorMessage: notOne) == nil, "\(notOne)")
        }
    }
}
