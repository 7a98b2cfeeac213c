import Foundation
import JWTKit

/// The claims of a device token: a JWT (HS256) naming one device, the services it may use and when it expires.
///
/// `services` lists service names; `"*"` allows every service the gateway offers.
struct DeviceClaims: JWTPayload {
    var sub: SubjectClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var services: [String]

    func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}

/// What a verified token lets a connection do.
public struct DeviceGrant: Sendable, Equatable {
    public let device: String
    public let services: Set<String>
    public let expiresAt: Date

    public init(device: String, services: Set<String>, expiresAt: Date) {
        self.device = device
        self.services = services
        self.expiresAt = expiresAt
    }

    /// Whether the token allows `service` (a service it names, or any when it names `*`).
    public func allows(_ service: String) -> Bool { services.contains("*") || services.contains(service) }
}

/// Why a token was refused. The message is safe to send to the device: it never contains the token or the key.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Mints and verifies device tokens with one shared secret.
///
/// Guarantees: a token verifies only if it was signed with this secret, is for this audience, has not expired and
/// names the device that presents it, so a token for device A can never be used as device B.
public final class TokenAuthority: Sendable {
    /// The secret `gateway dev` and the local defaults use; never use it outside development.
    public static let developmentSecret = "channel-gateway-development-secret-do-not-use-in-production"
    public static let defaultAudience = "channel-gateway"

    private let keys: JWTKeyCollection
    private let audience: String

    /// - Throws: ``TokenError`` if the secret is shorter than 32 bytes (HS256 needs a key as long as its hash).
    public init(secret: String, audience: String = TokenAuthority.defaultAudience) async throws(TokenError) {
        guard secret.utf8.count >= 32 else { throw TokenError(message: "the token secret must be at least 32 bytes") }
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.audience = audience
    }

    /// A signed token for `device`, valid for `ttl` from now.
    public func mint(device: String, services: [String], ttl: Duration) async throws -> String {
        let now = Date()
        let claims = DeviceClaims(
            sub: SubjectClaim(value: device), aud: AudienceClaim(value: [audience]), iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(Double(ttl.components.seconds))), services: services)
        return try await keys.sign(claims)
    }

    /// Verifies `token` as presented by `device`.
    /// - Throws: ``TokenError`` saying what is wrong (malformed, bad signature, expired, wrong audience, other device).
    public func verify(_ token: String, device: String) async throws(TokenError) -> DeviceGrant {
        guard !token.isEmpty else { throw TokenError(message: "missing token") }
        let claims: DeviceClaims
        do {
            claims = try await keys.verify(token, as: DeviceClaims.self)
        } catch let error as JWTError {
            switch error.errorType {
            case .claimVerificationFailure: throw TokenError(message: "token expired")
            case .signatureVerificationFailed: throw TokenError(message: "token signature invalid")
            default: throw TokenError(message: "token malformed")
            }
        } catch {
            throw TokenError(message: "token malformed")
        }
        guard claims.aud.value.contains(audience) else { throw TokenError(message: "token is for another audience") }
        guard claims.sub.value == device else { throw TokenError(message: "token is for another device") }
        return DeviceGrant(device: device, services: Set(claims.services), expiresAt: claims.exp.value)
    }
}
