import Infrastructure

/// The ids of the push service: a subscription id is the capability an app server holds, so it is unguessable.
///
/// Guarantees: ``newRandom()`` returns 128 bits from the system's cryptographic generator (`getrandom` on Linux),
/// base64url without padding (22 characters); ``isWellFormed(_:)`` accepts exactly the shape such ids have, so a path
/// that cannot name a subscription is answered 404 without asking Redis.
public enum SubscriptionID {
    /// The length of a subscription or push message id: 16 bytes in base64url without padding.
    public static let length = 22

    /// A fresh random id: 128 bits, 22 characters (a push message id; a subscription id adds its slot tag).
    public static func newRandom() -> String {
        base64url(RandomBytes.make(16))
    }

    /// The length of a subscription id: 22 random characters and the 3-character tag of its device's Redis slot.
    public static let subscriptionLength = length + 3

    /// A fresh subscription id for a device whose push keys are in Redis slot `slot`: 128 random bits, then that
    /// slot's tag (`RedisKeySlot.tag(forSlot:)`), so that the subscription's own keys land in the device's slot.
    public static func newSubscription(slot: Int) -> String { newRandom() + RedisKeySlot.tag(forSlot: slot) }

    /// The random part and the slot tag of a subscription id; nil for an id without a tag (22 characters: made before
    /// ids carried one).
    public static func parts(_ id: String) -> (random: Substring, tag: Substring)? {
        guard id.utf8.count == subscriptionLength else { return nil }
        return (id.prefix(length), id.suffix(3))
    }

    /// Whether `text` has the shape of an id this service hands out: 22 (a push message, or a subscription made before
    /// ids carried a slot tag) or 25 characters of the base64url alphabet.
    public static func isWellFormed(_ text: String) -> Bool {
        (text.utf8.count == length || text.utf8.count == subscriptionLength) && text.utf8.allSatisfy(isBase64URL)
    }

    /// Whether a byte is in the base64url alphabet (`A–Z a–z 0–9 - _`).
    static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// `bytes` in base64url (RFC 4648 §5), without padding.
    public static func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if i + 1 < bytes.count { out.append(alphabet[Int(n >> 6 & 63)]) }
            if i + 2 < bytes.count { out.append(alphabet[Int(n & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
