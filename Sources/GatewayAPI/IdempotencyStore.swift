import Crypto
import Foundation
import Infrastructure
import Lifecycle

/// The first answer to each send made with an `Idempotency-Key`, kept in Redis for 24 h (docs/api.md, "Idempotency").
///
/// One string per (key fingerprint, idempotency key), `<prefix>:api-idem:<fingerprint>:<sha-256 of the idempotency
/// key>`: `pending <hash>` while the first request is being sent (set with NX, so exactly one request claims it, and
/// with a short expiry, so a crashed server does not block the key for a day), then `done <hash> <answer JSON>` for
/// 24 h. `<hash>` is the SHA-256 of the request as decoded, so a repeat with another body is told apart.
struct IdempotencyStore: Sendable {
    static let keep = Duration.seconds(86_400)
    /// Longer than any send can take (Kafka gives up on a record after 5 s here).
    static let claimFor = Duration.seconds(60)

    enum Claim: Equatable {
        /// This request is the first: send, then ``finish(_:requestHash:answer:)`` or ``release(_:)``.
        case claimed
        /// The first request with this key and the same body is still being sent.
        case inProgress
        /// The first request with this key had another body.
        case conflict
        /// The first request with this key and the same body was answered so.
        case answered([UInt8])
    }

    let redis: any RedisKeyspace
    let prefix: String

    func key(fingerprint: String, idempotencyKey: String) -> String {
        let digest = HexText.of(SHA256.hash(data: Array(idempotencyKey.utf8)))
        return "\(prefix):api-idem:\(fingerprint):\(digest)"
    }

    func claim(_ key: String, requestHash: String) async throws -> Claim {
        for _ in 0..<3 {
            let set = try await redis.send(["SET", key, "pending \(requestHash)", "NX", "PX", String(Self.claimFor.inMilliseconds)], key: key)
            if set.string == "OK" { return .claimed }
            guard let value = try await redis.send(["GET", key], key: key).bytes else { continue }  // expired meanwhile
            let parts = value.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, String(decoding: parts[1], as: UTF8.self) == requestHash else { return .conflict }
            if parts[0].elementsEqual("done".utf8), parts.count == 3 { return .answered(Array(parts[2])) }
            return .inProgress
        }
        return .inProgress
    }

    func finish(_ key: String, requestHash: String, answer: [UInt8]) async throws {
        _ = try await redis.send([Array("SET".utf8), Array(key.utf8), Array("done \(requestHash) ".utf8) + answer,
                                  Array("PX".utf8), Array(String(Self.keep.inMilliseconds).utf8)], key: Array(key.utf8))
    }

    /// The send failed: a retry may claim the key again (it writes the same ids).
    func release(_ key: String) async throws {
        _ = try await redis.send(["DEL", key], key: key)
    }

    /// The hash a repeat must match: SHA-256 of the request encoded with sorted keys.
    static func hash<T: Encodable>(_ request: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(request)) ?? Data()
        return HexText.of(SHA256.hash(data: bytes))
    }
}
