import Foundation
import Logging
import Shared

/// Where the admin API keeps revocations: ``RevocationStore`` in service, an in-memory fake in the handler tests.
protocol RevocationKeeper: Sendable {
    func set(_ rule: Revocation) async throws
    func lift(_ target: Revocation.Target) async throws -> Bool
    func all() async throws -> [Revocation]
}

extension RevocationStore: RevocationKeeper {}

/// Carries out the admin API's revocation requests (docs/push.md, "Admin API: revocations") once their head passed
/// (an admin key, a well-formed target) and their body arrived.
///
/// Guarantees: never throws, every failure is a response: a bad body is 400 with the rule it broke, lifting what is not
/// there is 404, Redis failing is 503 with `Retry-After` (a set or lift may then have been written or not; both can be
/// repeated safely). Every change is logged at `notice` with its target and reason, never with the caller's key.
struct RevocationAdmin: Sendable {
    let keeper: any RevocationKeeper
    let logger: Logger
    /// Unix seconds; the tests set it.
    let now: @Sendable () -> Int64

    init(keeper: any RevocationKeeper, logger: Logger, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.keeper = keeper
        self.logger = logger
        self.now = now
    }

    func carry(_ request: RevocationRequest, body: [UInt8]) async -> PushResponse {
        let now = now()
        do {
            switch request.operation {
            case .list:
                return .json(status: 200, RevocationJSON.list(try await keeper.all(), now: now).bytes)
            case .set:
                let rule: Revocation
                switch RevocationRequest.rule(from: body, now: now) {
                case .success(let value): rule = value
                case .failure(let rejection): return .error(rejection)
                }
                try await keeper.set(rule)
                logger.notice("revocation set through the admin API", metadata: [
                    "revocation": "\(rule.field)", "issued-before": "\(rule.issuedBefore.map(String.init) ?? "-")",
                    "until": "\(rule.until.map(String.init) ?? "-")", "reason": "\(rule.reason)",
                ])
                return .json(status: 201, RevocationJSON.rule(rule, now: now).bytes)
            case .lift(let target):
                guard try await keeper.lift(target) else { return .error(.noRevocation(target)) }
                logger.notice("revocation lifted through the admin API", metadata: ["revocation": "\(Revocation.field(target))"])
                return PushResponse(status: 204, headers: [PushResponse.Header("Cache-Control", "no-store")])
            }
        } catch {
            logger.warning("revocations: Redis failed: \(error)")
            return .error(.unavailable("Redis", retryAfter: 2))
        }
    }
}

extension PushResponse {
    /// A JSON answer of the admin API, never cached.
    static func json(status: Int, _ body: [UInt8]) -> PushResponse {
        PushResponse(status: status, headers: [Header("Content-Type", "application/json"), Header("Cache-Control", "no-store")],
                     body: body)
    }
}

extension PushRejection {
    /// 403: this push service has no admin keys, so it serves no admin endpoint.
    static let adminDisabled = PushRejection(
        status: 403, code: "admin_disabled",
        message: "this push service has no admin API: start it with --admin-api-keys (docs/push.md)")
    /// 401 for an admin request without one of the admin keys.
    static let unauthorizedForAdmin = PushRejection(
        status: 401, code: "unauthorized", message: "the admin API needs Authorization: Bearer <admin api key>")
    /// 404 under `/v1/revocations` for a path that is none of its endpoints.
    static let noSuchAdminPath = PushRejection(
        status: 404, code: "not_found",
        message: "no such endpoint: /v1/revocations, /v1/revocations/device/{id} or /v1/revocations/key/{kid}")

    /// 404 to a lift: there was no rule for `target`.
    static func noRevocation(_ target: Revocation.Target) -> PushRejection {
        PushRejection(status: 404, code: "not_found", message: "no revocation of \(target) is in force")
    }
}
