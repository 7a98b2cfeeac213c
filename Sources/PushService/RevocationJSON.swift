import ServiceKit
import Shared

/// Revocations as the admin API answers them and `gateway revoke list --json` prints them: one shape for both.
///
/// Guarantees: a rule has its fields in a fixed order (`device` or `kid`, `issuedBefore`, `until`, `reason`,
/// `createdAt`, `lapsed`), the fields it does not set left out; a list is sorted by target (devices, then keys).
public enum RevocationJSON {
    /// `rule` with `lapsed`: whether its `until` has passed at `now` (Unix seconds), so it matches nothing any more.
    public static func rule(_ rule: Revocation, now: Int64) -> JSONBody {
        let target: (String, JSONBody?) = switch rule.target {
        case .device(let id): ("device", .string(id))
        case .key(let kid): ("kid", .string(kid))
        }
        return .object([target, ("issuedBefore", rule.issuedBefore.map { .int($0) }), ("until", rule.until.map { .int($0) }),
                        ("reason", .string(rule.reason)), ("createdAt", .int(rule.createdAt)),
                        ("lapsed", .bool(rule.isLapsed(at: now)))])
    }

    /// `{"revocations":[…]}`, sorted by target.
    public static func list(_ rules: [Revocation], now: Int64) -> JSONBody {
        .object([("revocations", .array(sorted(rules).map { rule($0, now: now) }))])
    }

    /// Devices first, then keys, each by id.
    public static func sorted(_ rules: [Revocation]) -> [Revocation] {
        rules.sorted { $0.field < $1.field }
    }
}
