import Crypto
import Foundation
import Infrastructure
import Shared

/// What a key may do. A key has exactly the scopes it was given: `admin` does not imply `send` or `read`.
public enum APIScope: String, Sendable, CaseIterable, Comparable {
    case send, read, admin

    public static func < (a: APIScope, b: APIScope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One key of the HTTP API, as given by `--api-key SCOPES:SECRET` (docs/api.md, "Keys and scopes").
///
/// Guarantees: the secret is never part of a description; ``fingerprint`` (the first 12 hex digits of its SHA-256) is
/// what logs and idempotency records name instead.
public struct APIKey: Sendable, Equatable, CustomStringConvertible {
    public let scopes: Set<APIScope>
    let secret: [UInt8]
    /// The first 12 hex digits of the secret's SHA-256: enough to tell keys apart in logs, useless to an attacker.
    public let fingerprint: String

    /// Why a key argument was refused; the message never repeats the secret.
    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The shortest secret accepted: a guessable key would open the API.
    public static let minimumSecretLength = 16

    /// Parses `SCOPES:SECRET`, SCOPES being `send`, `read` and `admin` joined by `+` (each at most once).
    public init(parsing text: String) throws(Malformed) {
        guard let colon = text.firstIndex(of: ":") else {
            throw Malformed(description: "an API key is SCOPES:SECRET (for example send+read:<secret>); this one has no ':'")
        }
        let scopeText = text[..<colon], secret = text[text.index(after: colon)...]
        var scopes = Set<APIScope>()
        for part in scopeText.split(separator: "+", omittingEmptySubsequences: false) {
            guard let scope = APIScope(rawValue: String(part)) else {
                throw Malformed(description: "an API key's scopes are send, read and admin joined by +; \"\(part.prefix(16))\" is not one")
            }
            guard scopes.insert(scope).inserted else { throw Malformed(description: "an API key names scope \(scope) twice") }
        }
        guard secret.utf8.count >= Self.minimumSecretLength else {
            throw Malformed(description: "an API key's secret must be at least \(Self.minimumSecretLength) characters")
        }
        guard secret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Malformed(description: "an API key's secret must be visible ASCII without spaces or commas")
        }
        guard !secret.contains(",") else { throw Malformed(description: "an API key's secret must not contain a comma") }
        self.init(scopes: scopes, secret: String(secret))
    }

    public init(scopes: Set<APIScope>, secret: String) {
        self.scopes = scopes
        self.secret = Array(secret.utf8)
        fingerprint = Self.fingerprint(of: self.secret)
    }

    /// `key <fingerprint> (send+read)`: never the secret.
    public var description: String { "key \(fingerprint) (\(scopes.sorted().map(\.rawValue).joined(separator: "+")))" }

    static func fingerprint(of secret: [UInt8]) -> String {
        String(HexText.of(SHA256.hash(data: secret)).prefix(12))
    }

    /// Every key in `arguments` (each one `SCOPES:SECRET`) and, when there are none, in `environment` (comma-separated).
    public static func parseAll(_ arguments: [String], environment: String?) throws(Malformed) -> [APIKey] {
        let texts = arguments.isEmpty ? (environment ?? "").split(separator: ",").map(String.init) : arguments
        var keys: [APIKey] = []
        for text in texts.map({ $0.trimmingCharacters(in: .whitespaces) }) where !text.isEmpty {
            let key = try APIKey(parsing: text)
            guard !keys.contains(where: { Secrets.same($0.secret, key.secret) }) else {
                throw Malformed(description: "the same secret is given twice (\(key.fingerprint)); give it once with all its scopes")
            }
            keys.append(key)
        }
        return keys
    }
}
