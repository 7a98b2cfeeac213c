#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// What the per-IP limits count a connection under: its peer's IPv4 address, or the /64 prefix of its IPv6 address.
///
/// One IPv6 subscriber is usually given a whole /64, so counting full IPv6 addresses would let a single host pose as
/// billions of peers. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as its IPv4 address. Two words and no
/// allocation, so a lookup per accepted connection stays cheap.
struct PeerKey: Hashable, Sendable, CustomStringConvertible {
    private let high: UInt64
    private let low: UInt64

    /// Marks an IPv4 key, so that no IPv6 prefix can equal one.
    private static let ipv4Tag: UInt64 = 1 << 32
    /// Peers whose address is unknown (not IP), counted together.
    static let unknown = PeerKey(high: .max, low: .max)

    private init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address, in host byte order.
    init(ipv4: UInt32) {
        self.init(high: 0, low: Self.ipv4Tag | UInt64(ipv4))
    }

    /// An IPv6 address as its 16 bytes in network order; only the first 8 count, unless it maps an IPv4 address.
    init<Bytes: RandomAccessCollection<UInt8>>(ipv6 bytes: Bytes) where Bytes.Index == Int {
        precondition(bytes.count == 16 && bytes.startIndex == 0)
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            self.init(ipv4: bytes[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
        } else {
            self.init(high: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: 0)
        }
    }

    /// The key of a connection's remote address; ``unknown`` when it has none or it is not IP.
    init(_ address: SocketAddress?) {
        switch address {
        case .v4(let v4):
            self.init(ipv4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            let raw = v6.address.sin6_addr
            self = withUnsafeBytes(of: raw) { PeerKey(ipv6: $0) }
        default:
            self = .unknown
        }
    }

    var description: String {
        if self == .unknown { return "unknown peer" }
        if high == 0 && low & Self.ipv4Tag != 0 {
            return [24, 16, 8, 0].map { String(low >> UInt64($0) & 0xFF) }.joined(separator: ".")
        }
        return [48, 32, 16, 0].map { String(high >> UInt64($0) & 0xFFFF, radix: 16) }.joined(separator: ":") + "::/64"
    }
}
