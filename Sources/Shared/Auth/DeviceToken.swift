import Foundation
import JWTKit

/// The claims of a device token: a JWT naming one device, the services it may use, and when it is valid.
///
/// `services` lists service names; `"*"` allows every service the gateway offers. `topics` lists the patterns of
/// topics the device may subscribe to (none when absent).
struct DeviceClaims: JWTPayload {
    var sub: SubjectClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var services: [String]
    /// Topic patterns the device may subscribe to (``TopicPattern``); absent in tokens without topics.
    var topics: [String]?
    /// Presence rooms the device may join, and devices it may watch (patterns, docs/presence.md); absent when none.
    var rooms: [String]?
    var watch: [String]?

    func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }
}
/// What a verified token lets a connection do, and what identifies the token for revocation.
public struct DeviceGrant: Sendable, Equatable {
    public let device: String
    public let services: Set<String>
    public let expiresAt: Date
    /// The topics it may subscribe to.
    public let topics: [TopicPattern]
    /// When the token was issued (`iat`), and the key that signed it: what revocations match besides the device.
    public let issuedAt: Date
    public let keyID: String
    /// The token's claims other than `sub` and `aud`, as one compact JSON object (keys sorted), for backends: the edge
    /// stamps it on every upstream record (header `claims`, docs/kafka-contract.md).
    public let claims: [UInt8]

    public init(device: String, services: Set<String>, expiresAt: Date, topics: [TopicPattern] = [],
                issuedAt: Date = Date(timeIntervalSince1970: 0), keyID: String = "", claims: [UInt8] = Array("{}".utf8)) {
        self.device = device
        self.services = services
        self.expiresAt = expiresAt
        self.topics = topics
        self.issuedAt = issuedAt
        self.keyID = keyID
        self.claims = claims
    }

    /// Whether the token allows `service` (a service it names, or any when it names `*`).
    public func allows(_ service: String) -> Bool { services.contains("*") || services.contains(service) }

    /// Whether the token allows subscribing to `topic` (one of its patterns matches it).
    public func allows(topic: String) -> Bool { topics.contains { $0.allows(topic, device: device) } }
}

/// Why a token was refused. The message is safe to send to the device: it never contains the token or the key.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Mints and verifies device tokens with a set of keys (HS256 secrets, ES256 key pairs), chosen by `kid`.
///
/// Guarantees: a token verifies only if it was signed by one of the keys (the one its `kid` names, or the first key
/// when it names none), uses that key's algorithm, is for this audience, is within its `nbf`…`exp` window and names
/// the device that presents it, so a token for device A can never be used as device B.
public final class TokenAuthority: Sendable {
    /// The secret `gateway dev` and the local defaults use; never use it outside development.
    public static let developmentSecret = "channel-gateway-development-secret-do-not-use-in-production"
    public static let defaultAudience = "channel-gateway"

    private let keys: JWTKeyCollection
    private let audience: String
    /// The kid new tokens are signed with: the first key that can sign.
    private let signingKid: String?
    /// The key a token without a `kid` is checked with: the first one.
    private let defaultKid: String

    /// - Throws: ``TokenError`` for an empty set, an HS256 secret shorter than 32 bytes, or an unreadable PEM key.
    public init(keys tokenKeys: [TokenKey], audience: String = TokenAuthority.defaultAudience) async throws(TokenError) {
        guard !tokenKeys.isEmpty else { throw TokenError(message: "no token keys configured") }
        let keys = JWTKeyCollection()
        var signing: String?
        for key in tokenKeys {
            let kid = JWKIdentifier(string: key.kid)
            switch key.material {
            case .hs256(let secret):
                guard secret.utf8.count >= 32 else {
                    throw TokenError(message: "token key \(key.kid): the secret must be at least 32 bytes")
                }
                await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: kid)
                signing = signing ?? key.kid
            case .es256(let publicPEM, let privatePEM):
                do {
                    if let privatePEM {
                        await keys.add(ecdsa: try ES256PrivateKey(pem: privatePEM), kid: kid)
                        signing = signing ?? key.kid
                    } else if let publicPEM {
                        await keys.add(ecdsa: try ES256PublicKey(pem: publicPEM), kid: kid)
                    }
                } catch {
                    throw TokenError(message: "token key \(key.kid): not a P-256 key in PEM")
                }
            }
        }
        self.keys = keys
        self.audience = audience
        self.signingKid = signing
        defaultKid = tokenKeys[0].kid
    }

    /// One HS256 key with this secret (kid `dev` for the development secret, else `default`).
    public convenience init(secret: String, audience: String = TokenAuthority.defaultAudience) async throws(TokenError) {
        let kid = secret == Self.developmentSecret ? "dev" : "default"
        try await self.init(keys: [TokenKey(kid: kid, material: .hs256(secret: secret))], audience: audience)
    }

    /// A signed token for `device`, valid from `notBefore` (default now) for `ttl`, signed with `kid` or the
    /// first key that can sign.
    /// - Parameters:
    ///   - topics: patterns of the topics the device may subscribe to (``TopicPattern``); checked here.
    ///   - rooms: patterns of the presence rooms it may join; `watch`: of the devices it may watch; checked here.
    ///   - issuedAt: the token's `iat` (default now).
    public func mint(device: String, services: [String], topics: [String] = [], rooms: [String] = [],
                     watch: [String] = [], ttl: Duration, notBefore: Date? = nil, issuedAt: Date? = nil,
                     audience: String? = nil, kid: String? = nil) async throws -> String {
        guard let kid = kid ?? signingKid else { throw TokenError(message: "none of the token keys can sign (ES256 needs its private key)") }
        for pattern in topics + rooms + watch { _ = try TopicPattern(pattern) }
        let now = Date()
        let claims = DeviceClaims(
            sub: SubjectClaim(value: device), aud: AudienceClaim(value: [audience ?? self.audience]),
            iat: IssuedAtClaim(value: issuedAt ?? now),
            exp: ExpirationClaim(value: (notBefore ?? now).addingTimeInterval(Double(ttl.components.seconds))),
            nbf: notBefore.map { NotBeforeClaim(value: $0) }, services: services, topics: topics.isEmpty ? nil : topics,
            rooms: rooms.isEmpty ? nil : rooms, watch: watch.isEmpty ? nil : watch)
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// Verifies `token` as presented by `device`.
    /// - Throws: ``TokenError`` saying what is wrong (malformed, bad signature, unknown key, expired, not yet valid,
    ///   wrong audience, other device); never the token or a key.
    public func verify(_ token: String, device: String) async throws(TokenError) -> DeviceGrant {
        guard !token.isEmpty else { throw TokenError(message: "missing token") }
        guard token.utf8.count <= 8192 else { throw TokenError(message: "token too long") }
        let claims: DeviceClaims
        do {
            claims = try await keys.verify(token, as: DeviceClaims.self)
        } catch let error as JWTError {
            switch error.errorType {
            case .claimVerificationFailure:
                throw TokenError(message: error.failedClaim is NotBeforeClaim ? "token not valid yet" : "token expired")
            case .signatureVerificationFailed: throw TokenError(message: "token signature invalid")
            case .unknownKID: throw TokenError(message: "token signed with an unknown key")
            default: throw TokenError(message: "token malformed")
            }
        } catch {
            throw TokenError(message: "token malformed")
        }
        guard claims.aud.value.contains(audience) else { throw TokenError(message: "token is for another audience") }
        guard claims.sub.value == device else { throw TokenError(message: "token is for another device") }
        // A pattern this gateway cannot read allows nothing, rather than failing the whole token.
        let topics = (claims.topics ?? []).compactMap { try? TopicPattern($0) }
        let parts = TokenParts(token)
        return DeviceGrant(device: device, services: Set(claims.services), expiresAt: claims.exp.value, topics: topics,
                           issuedAt: claims.iat.value, keyID: parts.keyID ?? defaultKid, claims: parts.claimsForBackends)
    }
}

/// The header's `kid` and the payload's claims of a token whose signature has been verified, read from its JSON
/// (jwt-kit gives neither): unreadable parts give nil and `{}`.
struct TokenParts {
    let keyID: String?
    let claimsForBackends: [UInt8]

    init(_ token: String) {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        func object(_ index: Int) -> [String: Any]? {
            guard segments.count == 3, let data = Self.base64URLDecoded(segments[index]) else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
        keyID = object(0)?["kid"] as? String
        var claims = object(1) ?? [:]
        claims["sub"] = nil
        claims["aud"] = nil
        let data = try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes])
        claimsForBackends = data.map { Array($0) } ?? Array("{}".utf8)
    }

    static func base64URLDecoded(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
