import ChannelProtocol
import Shared

/// Why a revocation an operator asked for is refused: a stable code (the admin API's JSON `error`) and a sentence.
public struct RevocationProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// What a revocation written by an operator must look like, whether it comes from `gateway revoke` or from the push
/// service's admin API (`POST /v1/revocations`), so both refuse the same rules with the same words.
///
/// Guarantees: a rule that passes names a device id the edges accept (``FieldRules/isDeviceID(_:)``) or a key id
/// without spaces or control characters, has no `issuedBefore` on a key, no `issuedBefore` later than a minute from
/// now (that would also refuse tokens not minted yet), no `until` that has already passed, and a short printable
/// reason.
public enum RevocationRules {
    /// The longest `kid` accepted, in bytes.
    public static let maxKeyIDBytes = 128
    /// The longest reason accepted, in bytes.
    public static let maxReasonBytes = 256
    /// How far `issuedBefore` may lie ahead of this machine's clock: clock skew between the caller and here.
    public static let issuedBeforeLeeway: Int64 = 60

    /// Checks a rule about to be set at `now` (Unix seconds).
    /// - Throws: ``RevocationProblem`` with code `bad_device`, `bad_kid`, `bad_issued_before`, `bad_until` or
    ///   `bad_reason`.
    public static func check(_ rule: Revocation, now: Int64) throws(RevocationProblem) {
        try check(rule.target)
        if let issuedBefore = rule.issuedBefore {
            guard case .device = rule.target else {
                throw RevocationProblem("bad_issued_before", "an issued-before time applies to a device's tokens only, not to a key's")
            }
            guard issuedBefore >= 0 else { throw RevocationProblem("bad_issued_before", "the issued-before time must be Unix seconds, 0 or more") }
            guard issuedBefore <= now + issuedBeforeLeeway else {
                throw RevocationProblem("bad_issued_before",
                                        "the issued-before time is in the future: it would also refuse tokens not minted yet (leave it out to refuse every token of the device)")
            }
        }
        if let until = rule.until, until <= now {
            throw RevocationProblem("bad_until", "the until time has passed: the rule would never be in force")
        }
        guard rule.reason.utf8.count <= maxReasonBytes else {
            throw RevocationProblem("bad_reason", "the reason is longer than \(maxReasonBytes) bytes")
        }
        guard !rule.reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RevocationProblem("bad_reason", "the reason must be one line of printable text")
        }
    }

    /// Checks the target of a rule to set or lift.
    /// - Throws: ``RevocationProblem`` with code `bad_device` or `bad_kid`.
    public static func check(_ target: Revocation.Target) throws(RevocationProblem) {
        switch target {
        case .device(let id):
            guard FieldRules.isDeviceID(id) else {
                throw RevocationProblem("bad_device", "a device id is 1 to 128 characters of A-Z a-z 0-9 . - _ : @")
            }
        case .key(let kid):
            guard !kid.isEmpty, kid.utf8.count <= maxKeyIDBytes,
                  !kid.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) else {
                throw RevocationProblem("bad_kid", "a key id (kid) is 1 to \(maxKeyIDBytes) bytes without spaces or control characters")
            }
        }
    }
}
