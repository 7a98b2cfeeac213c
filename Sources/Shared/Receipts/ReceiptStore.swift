import Infrastructure

/// Reads delivery receipts (``Receipt``) from Redis. The mailbox scripts and ``Mailbox/markDelivered(_:edge:on:)``
/// write them (docs/redis-schema.md, "Receipts").
///
/// Guarantees: a receipt is there from the moment its message was stored (or refused) until one day after the
/// message's expiry; nil means the message never asked for one, was never routed, or that day has passed.
public struct ReceiptStore: Sendable {
    public let redis: any RedisKeyspace
    public let keys: RedisKeys

    public init(redis: any RedisKeyspace, keys: RedisKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// The receipt of message `id` of `device`, or nil when there is none.
    /// - Throws: when Redis cannot be asked, or the hash is not a receipt.
    public func receipt(device: String, id: String) async throws -> Receipt? {
        let key = keys.receipt(device: device, id: id)
        let reply = try await redis.send(["HGETALL", key], key: key)
        let flat = reply.array ?? []
        guard !flat.isEmpty else { return nil }
        var fields: [String: String] = [:]
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[i].string { fields[name] = flat[i + 1].string }
        }
        guard let state = fields["state"].flatMap(ReceiptState.init(rawValue:)),
              let updated = fields["updated"].flatMap({ Int64($0) }) else {
            throw RedisError.reply("\(key) is not a receipt: \(fields)")
        }
        return Receipt(device: device, id: id, service: fields["service"] ?? "", state: state, updatedAt: updated,
                       storedAt: fields["stored"].flatMap { Int64($0) }, deliveredAt: fields["delivered"].flatMap { Int64($0) },
                       ackedAt: fields["acked"].flatMap { Int64($0) }, expiresAt: fields["expires"].flatMap { Int64($0) },
                       edge: fields["edge"], reason: fields["reason"])
    }
}
