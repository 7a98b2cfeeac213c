import Foundation

/// One rule an operator set to stop tokens before they expire (docs/security.md, "Revocation").
///
/// Guarantees: a rule matches a verified token (``DeviceGrant``) only as its kind says: every token of a device, the
/// tokens of a device issued at or before a time (`iat`, whole seconds, so a token minted in the same second as the
/// rule is caught too), or every token signed with a key (`kid`). A rule past its `until` matches nothing.
public struct Revocation: Sendable, Equatable, Codable {
    public enum Target: Sendable, Equatable, Hashable, CustomStringConvertible {
        case device(String)
        case key(String)

        /// `device d-1` or `key k1`, as operators name a rule (`gateway revoke lift device d-1`).
        public var description: String {
            switch self {
            case .device(let id): "device \(id)"
            case .key(let kid): "key \(kid)"
            }
        }
    }

    public var target: Target
    /// For a device: only its tokens issued at or before this time (Unix seconds); nil: all of them.
    public var issuedBefore: Int64?
    /// When the rule lapses (Unix seconds); nil: when an operator lifts it.
    public var until: Int64?
    /// Why, for operators (printed by `gateway revoke list`); never shown to devices.
    public var reason: String
    /// When it was set (Unix seconds).
    public var createdAt: Int64

    public init(target: Target, issuedBefore: Int64? = nil, until: Int64? = nil, reason: String = "", createdAt: Int64) {
        self.target = target
        self.issuedBefore = issuedBefore
        self.until = until
        self.reason = reason
        self.createdAt = createdAt
    }

    /// The rule's field in the revocations hash: `device:<id>` or `kid:<kid>`.
    public var field: String { Self.field(target) }

    public static func field(_ target: Target) -> String {
        switch target {
        case .device(let id): "device:\(id)"
        case .key(let kid): "kid:\(kid)"
        }
    }

    /// Whether the rule has lapsed at `now` (Unix seconds): it matches nothing, and the next write drops it.
    public func isLapsed(at now: Int64) -> Bool {
        until.map { now >= $0 } ?? false
    }

    /// Whether the rule stops `grant` at `now` (Unix seconds).
    public func revokes(_ grant: DeviceGrant, now: Int64) -> Bool {
        if isLapsed(at: now) { return false }
        switch target {
        case .device(let id):
            guard id == grant.device else { return false }
            guard let issuedBefore else { return true }
            return Int64(grant.issuedAt.timeIntervalSince1970.rounded(.down)) <= issuedBefore
        case .key(let kid):
            return kid == grant.keyID
        }
    }

    private enum CodingKeys: String, CodingKey { case device, kid, issuedBefore, until, reason, createdAt }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let device = try c.decodeIfPresent(String.self, forKey: .device) {
            target = .device(device)
        } else {
            target = .key(try c.decode(String.self, forKey: .kid))
        }
        issuedBefore = try c.decodeIfPresent(Int64.self, forKey: .issuedBefore)
        until = try c.decodeIfPresent(Int64.self, forKey: .until)
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        createdAt = try c.decodeIfPresent(Int64.self, forKey: .createdAt) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch target {
        case .device(let id): try c.encode(id, forKey: .device)
        case .key(let kid): try c.encode(kid, forKey: .kid)
        }
        try c.encodeIfPresent(issuedBefore, forKey: .issuedBefore)
        try c.encodeIfPresent(until, forKey: .until)
        try c.encode(reason, forKey: .reason)
        try c.encode(createdAt, forKey: .createdAt)
    }
}

/// The revocations in force, indexed for the edge's checks at hello, at refresh and on every change.
///
/// Guarantees: ``revocation(of:now:)`` costs two dictionary lookups whatever the number of rules, so an edge can check
/// every connection it holds when the rules change.
public struct RevocationSet: Sendable, Equatable {
    public private(set) var rules: [Revocation.Target: Revocation] = [:]

    public init(_ rules: [Revocation] = []) {
        for rule in rules { self.rules[rule.target] = rule }
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// The rule that stops `grant` at `now` (Unix seconds), if any.
    public func revocation(of grant: DeviceGrant, now: Int64) -> Revocation? {
        if let rule = rules[.device(grant.device)], rule.revokes(grant, now: now) { return rule }
        if let rule = rules[.key(grant.keyID)], rule.revokes(grant, now: now) { return rule }
        return nil
    }
}
