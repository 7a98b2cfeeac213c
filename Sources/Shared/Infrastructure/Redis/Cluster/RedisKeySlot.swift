/// Which of Redis Cluster's 16,384 hash slots a key belongs to: CRC16 (XMODEM) of the key, modulo 16,384, where a key
/// with a hash tag (the part between the first `{` and the next `}`, when it is not empty) is hashed by its tag
/// alone, so that keys sharing a tag share a slot (the Redis Cluster specification, "Hash tags").
///
/// Guarantees: the same slot as `CLUSTER KEYSLOT` for every key (checked against a cluster node in the tests).
public enum RedisKeySlot {
    public static let count = 16_384

    /// The slot of `key`, given as the bytes Redis receives.
    public static func slot(of key: some Collection<UInt8>) -> Int {
        Int(crc16(hashed(key)) % UInt16(count))
    }

    /// The slot of a text key.
    public static func slot(of key: String) -> Int { slot(of: key.utf8) }

    /// A three-character tag of the base64url alphabet (`A–Z a–z 0–9 - _`) whose slot is `slot`: the first in
    /// alphabet order. Written inside braces into a key, it puts that key in `slot`, so that an id can carry the slot
    /// of the keys it belongs with (every slot has one: checked in the tests).
    public static func tag(forSlot slot: Int) -> String { tags[slot] }

    private static let tags: [String] = {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var found = [String?](repeating: nil, count: count)
        for a in alphabet {
            for b in alphabet {
                for c in alphabet where found[slot(of: [a, b, c])] == nil {
                    found[slot(of: [a, b, c])] = String(decoding: [a, b, c], as: UTF8.self)
                }
            }
        }
        return found.map { $0! }
    }()

    /// The bytes that decide the slot: the hash tag when there is a non-empty one, else the whole key.
    static func hashed<Key: Collection<UInt8>>(_ key: Key) -> Key.SubSequence {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else { return key[...] }
        return key[afterOpen..<close]
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection; "123456789" gives 0x31C3.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ table[Int(UInt8(crc >> 8) ^ byte)] }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
