import Foundation
import Infrastructure
import Shared

/// What a push to a subscription may do, as Redis says.
public enum PushAuthorization: Sendable, Equatable {
    /// Live, and under its rate: deliver to `device`.
    case deliver(device: String, label: String?)
    /// Never existed, or its tombstone is gone too (404).
    case unknown
    /// Unsubscribed, or past its `expires` (410).
    case gone
    /// Over `--rate-per-minute` this minute (429).
    case limited(retryAfterSeconds: Int)
}

/// The push subscriptions in Redis (docs/redis-schema.md, "Push"): who owns each, when it expires, and its rate.
///
/// Guarantees: check-and-set steps run as Lua scripts (``PushScripts``), so two push instances, or a device message
/// handled twice, never create two subscriptions for one request nor let another device unsubscribe. The blocking
/// methods are for the channel service's consumer thread; ``authorize(subscription:ratePerMinute:now:)`` is async
/// and never blocks, for the HTTP side. Redis failures are thrown as `RedisError`.
public final class SubscriptionStore: Sendable {
    /// How long an unsubscribed or expired subscription answers 410 before it is forgotten: 30 days.
    public static let tombstoneMs: Int64 = 30 * 86_400_000
    /// How long the memo of a subscribe request is kept for its repeats: 24 h.
    public static let requestMemoMs: Int64 = 86_400_000
    /// The most live subscriptions one device may hold; a subscribe past it is refused (`too_many`).
    public static let maxPerDevice = 100

    /// A device asked for more than ``maxPerDevice`` live subscriptions.
    public struct TooMany: Error, Sendable {}

    private let redis: any RedisKeyspace
    private let prefix: String

    /// - Parameter prefix: the installation prefix every key starts with.
    public init(redis: any RedisKeyspace, prefix: String) {
        self.redis = redis
        self.prefix = prefix
    }

    // A device's keys carry its hash tag; a subscription's keys carry the slot tag its id ends with, which is its
    // device's slot, so every script touches one Redis Cluster slot (docs/redis-schema.md, "Push").
    func subscriptionKey(_ id: String) -> String { "\(prefix):push:sub:" + tagged(id) }
    func deviceKey(_ device: String) -> String { "\(prefix):push:device:{\(device)}" }
    func requestKey(device: String, messageID: String) -> String { "\(prefix):push:req:{\(device)}:\(messageID)" }
    func rateKey(_ id: String, minute: Int64) -> String { "\(prefix):push:rate:" + tagged(id) + ":\(minute)" }

    /// `{<tag>}<random>` for an id with a slot tag; the id itself for an older one.
    private func tagged(_ id: String) -> String {
        guard let (random, tag) = SubscriptionID.parts(id) else { return id }
        return "{\(tag)}\(random)"
    }

    /// Creates a subscription for `device`, or returns the one an earlier handling of the same message created.
    /// - Throws: ``TooMany`` when the device already holds ``maxPerDevice`` live subscriptions; Redis errors.
    public func subscribe(device: String, messageID: String, label: String?, expiresSeconds: Int?) throws -> SubscriptionInfo {
        let id = SubscriptionID.newSubscription(slot: RedisKeySlot.slot(of: deviceKey(device)))
        let reply = try redis.runBlocking(PushScripts.subscribe, keys: [
            requestKey(device: device, messageID: messageID), subscriptionKey(id), deviceKey(device),
        ], args: [
            id, device, label ?? "", String(expiresSeconds ?? 0), String(Self.requestMemoMs), String(Self.tombstoneMs),
            "\(prefix):push:sub:", String(Self.maxPerDevice),
        ])
        if let fields = reply.array, fields.count == 1, fields[0].string == "" { throw TooMany() }
        guard let fields = reply.array, fields.count == 3, let stored = fields[0].string else {
            throw RedisError(message: "push subscribe script returned \(reply)", isConnectionError: false)
        }
        let expires = fields[1].int ?? 0
        let label = fields[2].string.flatMap { $0.isEmpty ? nil : $0 }
        // The device is told its subscription exists only once the replicas asked for hold it.
        try redis.confirmDurableBlocking([Array(subscriptionKey(stored).utf8)])
        return SubscriptionInfo(id: stored, expiresMs: expires > 0 ? expires : nil, label: label)
    }

    /// Marks `subscription` gone if `device` owns it.
    /// - Returns: false when it does not exist or belongs to another device.
    public func unsubscribe(device: String, subscription: String) throws -> Bool {
        let reply: RedisValue
        do {
            reply = try redis.runBlocking(PushScripts.unsubscribe, keys: [subscriptionKey(subscription), deviceKey(device)],
                                          args: [device, subscription, String(Self.tombstoneMs)])
        } catch let error as RedisError where error.message.hasPrefix("CROSSSLOT") {
            // On a cluster, a subscription in another slot than the device's keys is not this device's (its id carries
            // another device's slot, or no tag at all): Redis refuses the call, and the answer is no.
            return false
        }
        guard reply.int == 1 else { return false }
        try redis.confirmDurableBlocking([Array(subscriptionKey(subscription).utf8)])
        return true
    }

    /// The device's live subscriptions, oldest first. Ids whose hash is gone, unsubscribed or expired are pruned
    /// from the device's set on the way.
    public func list(device: String, now: Date = Date()) throws -> [SubscriptionInfo] {
        let members = try redis.sendBlocking(["SMEMBERS", deviceKey(device)], key: deviceKey(device)).array ?? []
        let ids = members.compactMap(\.string)
        guard !ids.isEmpty else { return [] }
        let rows = try redis.pipelineBlocking(ids.map {
            RedisCommand(["HMGET", subscriptionKey($0), "created", "expires", "label", "state"], key: subscriptionKey($0))
        })
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        var live: [(created: Int64, info: SubscriptionInfo)] = []
        var dead: [String] = []
        for (id, row) in zip(ids, rows) {
            let fields = try row.get().array ?? []
            guard fields.count == 4, let state = fields[3].string else {
                dead.append(id)
                continue
            }
            let expires = fields[1].int ?? 0
            if state != "active" || (expires > 0 && nowMs >= expires) {
                dead.append(id)
                continue
            }
            let label = fields[2].string.flatMap { $0.isEmpty ? nil : $0 }
            live.append((fields[0].int ?? 0, SubscriptionInfo(id: id, expiresMs: expires > 0 ? expires : nil, label: label)))
        }
        if !dead.isEmpty { _ = try redis.sendBlocking(["SREM", deviceKey(device)] + dead, key: deviceKey(device)) }
        return live.sorted { ($0.created, $0.info.id) < ($1.created, $1.info.id) }.map(\.info)
    }

    /// Whether a push to `subscription` may be delivered now, counting it against the subscription's rate for the
    /// current minute (windows are whole minutes of `now`, shared by every push instance through Redis).
    public func authorize(subscription: String, ratePerMinute: Int, now: Date = Date()) async throws -> PushAuthorization {
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let minute = nowMs / 60_000
        let reply = try await redis.run(PushScripts.authorize, keys: [subscriptionKey(subscription), rateKey(subscription, minute: minute)],
                                        args: [String(ratePerMinute)])
        let fields = reply.array ?? []
        switch fields.first?.string {
        case "ok" where fields.count == 3:
            guard let device = fields[1].string else { break }
            return .deliver(device: device, label: fields[2].string.flatMap { $0.isEmpty ? nil : $0 })
        case "unknown": return .unknown
        case "gone": return .gone
        case "limited":
            let remainingMs = (minute + 1) * 60_000 - nowMs
            return .limited(retryAfterSeconds: Int(max(1, (remainingMs + 999) / 1000)))
        default: break
        }
        throw RedisError(message: "push authorize script returned \(reply)", isConnectionError: false)
    }
}
