/// A message waiting for a device.
public struct MailboxEntry: Sendable, Equatable {
    /// Per device, strictly increasing in store order; assigned by `Mailbox.storeBlocking`.
    public var seq: Int64
    /// The message id, unique per device; the mailbox is idempotent by it.
    public var id: String
    public var service: String
    public var contentType: String
    /// When the message expires, in unix ms (compared with the Redis server clock).
    public var expiresAtMs: Int64
    /// Binary-safe: any bytes.
    public var payload: [UInt8]
    /// The sender asked for a delivery receipt (``Receipt``): storing the entry writes one, and the router and edge
    /// record and report its later states. Kept in the stored value, so it reads back as stored.
    public var receipt: Bool

    public init(seq: Int64, id: String, service: String, contentType: String, expiresAtMs: Int64, payload: [UInt8],
                receipt: Bool = false) {
        self.seq = seq
        self.id = id
        self.service = service
        self.contentType = contentType
        self.expiresAtMs = expiresAtMs
        self.payload = payload
        self.receipt = receipt
    }
}

extension MailboxEntry {
    /// The latest expiry the mailbox keeps (9999-12-31T23:59:59.999Z); later ones are stored as this. It keeps every
    /// time the scripts compute with exact in Lua's doubles and printable with `%d`.
    public static let maxExpiresAtMs: Int64 = 253_402_300_799_999

    /// The value stored in the entries hash (docs/redis-schema.md, "Mailbox"):
    /// `"<expiresAtMs> <service bytes> <content type bytes>[ r]\n" + service + contentType + payload`, where ` r`
    /// marks an entry that asked for a receipt. The header is ASCII, so Lua reads the expiry with one pattern;
    /// everything after it is raw bytes.
    var storedValue: [UInt8] {
        let service = Array(service.utf8), contentType = Array(contentType.utf8)
        var value = Array("\(expiresAtMs) \(service.count) \(contentType.count)\(receipt ? " r" : "")\n".utf8)
        value.reserveCapacity(value.count + service.count + contentType.count + payload.count)
        value += service
        value += contentType
        value += payload
        return value
    }

    /// Reads a stored value back; nil if it is malformed. A fourth header field `r` is the receipt mark; any other
    /// fields after the first three are ignored, so the format can grow. A value cut short after the content type (as
    /// ``Mailbox/list(device:after:limit:)`` reads it) gives an empty payload.
    init?(seq: Int64, id: String, storedValue value: [UInt8]) {
        guard let newline = value.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let header = value[..<newline].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard header.count >= 3, let expires = Int64(header[0]),
              let serviceCount = Int(header[1]), let contentTypeCount = Int(header[2]),
              serviceCount >= 0, contentTypeCount >= 0,
              value.count - (newline + 1) >= serviceCount + contentTypeCount else { return nil }
        let serviceStart = newline + 1, contentTypeStart = serviceStart + serviceCount
        let payloadStart = contentTypeStart + contentTypeCount
        self.init(seq: seq, id: id,
                  service: String(decoding: value[serviceStart..<contentTypeStart], as: UTF8.self),
                  contentType: String(decoding: value[contentTypeStart..<payloadStart], as: UTF8.self),
                  expiresAtMs: expires, payload: Array(value[payloadStart...]), receipt: header.count >= 4 && header[3] == "r")
    }
}
