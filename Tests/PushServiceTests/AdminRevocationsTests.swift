import Foundation
import HTTPTestSupport
import Logging
import NIOCore
import NIOEmbedded
@testable import PushService
import Shared
import Testing

/// Stands in for ``RevocationStore``: rules in memory, or a Redis that fails every call.
actor MemoryKeeper: RevocationKeeper {
    private(set) var rules: [Revocation.Target: Revocation] = [:]
    var failing = false

    struct Down: Error {}

    func set(_ rule: Revocation) throws {
        if failing { throw Down() }
        rules[rule.target] = rule
    }

    func lift(_ target: Revocation.Target) throws -> Bool {
        if failing { throw Down() }
        return rules.removeValue(forKey: target) != nil
    }

    func all() throws -> [Revocation] {
        if failing { throw Down() }
        return Array(rules.values)
    }

    func fail() { failing = true }
}

/// The admin API of the push service (docs/push.md, "Admin API: revocations"): the checks of the head, the body's
/// rules, and the answers through the HTTP pipeline, with revocations kept in memory.
@Suite(.timeLimit(.minutes(1))) struct AdminRevocationsTests {
    static let adminKey = "admin-key-0123456789"
    static let pushKey = "push-key-0123456789"
    static let topicKey = "topic-key-0123456789"
    static let now: Int64 = 1_733_472_000
    static let policy = PushPolicy(maxPayloadBytes: 16, apiKeys: [pushKey], topicAPIKeys: [topicKey], adminAPIKeys: [adminKey])

    func route(_ method: String, _ path: String, key: String? = adminKey, headers: [(name: String, value: String)] = [],
               policy: PushPolicy = policy) -> Result<RevocationRequest, PushRejection>? {
        var all = headers
        if let key { all.append((name: "Authorization", value: "Bearer \(key)")) }
        return PushRequestParser.revocationRoute(method: method, uri: path, headers: all, policy: policy)
    }

    func rejection(_ result: Result<RevocationRequest, PushRejection>?) -> PushRejection? {
        if case .failure(let rejection)? = result { return rejection }
        return nil
    }

    func rejection(_ result: Result<PushRoute, PushRejection>) -> PushRejection? {
        if case .failure(let rejection) = result { return rejection }
        return nil
    }

    func rule(_ json: String) -> Result<Revocation, PushRejection> {
        RevocationRequest.rule(from: Array(json.utf8), now: Self.now)
    }

    // MARK: - The head

    @Test func eachEndpointIsRoutedWithItsOperation() {
        #expect(route("GET", "/v1/revocations") == .success(RevocationRequest(.list)))
        #expect(route("GET", "/v1/revocations/?x=1") == .success(RevocationRequest(.list)))
        #expect(route("POST", "/v1/revocations", headers: [(name: "Expect", value: "100-continue")])
                == .success(RevocationRequest(.set, expectsContinue: true)))
        #expect(route("DELETE", "/v1/revocations/device/d-1") == .success(RevocationRequest(.lift(.device("d-1")))))
        #expect(route("DELETE", "/v1/revocations/device/user%40example.com")
                == .success(RevocationRequest(.lift(.device("user@example.com")))), "ids are %-decoded")
        #expect(route("DELETE", "/v1/revocations/key/k1") == .success(RevocationRequest(.lift(.key("k1")))))
        for other in ["/v1/revocationsx", "/v1/revocation", "/v1/push/AbCdEfGhIjKlMnOpQrSt_-", "/v1/topics/revocations"] {
            #expect(route("GET", other) == nil, "\(other) is not the admin API's")
        }
    }

    @Test func withoutAdminKeysEveryAdminRequestIs403() {
        let noAdmin = PushPolicy(apiKeys: [Self.pushKey], topicAPIKeys: [Self.topicKey])
        for (method, path) in [("GET", "/v1/revocations"), ("POST", "/v1/revocations"), ("DELETE", "/v1/revocations/key/k1")] {
            #expect(rejection(route(method, path, policy: noAdmin))?.code == "admin_disabled", "\(method) \(path)")
            #expect(rejection(route(method, path, key: nil, policy: noAdmin))?.status == 403)
        }
    }

    @Test func onlyAnAdminKeyOpensTheAdminAPIAndItOpensNothingElse() {
        for key in [nil, Self.pushKey, Self.topicKey, "admin-key-012345678", Self.adminKey + "x"] {
            let refused = rejection(route("GET", "/v1/revocations", key: key))
            #expect(refused?.status == 401 && refused?.code == "unauthorized", "\(key ?? "no key")")
            #expect(rejection(route("DELETE", "/v1/revocations/device/d-1", key: key))?.status == 401)
        }
        #expect(rejection(route("GET", "/v1/revocations", key: nil, headers: [(name: "Authorization", value: Self.adminKey)]))?.status == 401,
                "Bearer is required")
        // The admin key is no push key and no topic key.
        let push = PushRequestParser.route(method: "POST", uri: "/v1/push/AbCdEfGhIjKlMnOpQrSt_-",
                                           headers: [("TTL", "60"), ("Authorization", "Bearer \(Self.adminKey)")], policy: Self.policy)
        #expect(rejection(push)?.status == 401)
        let publish = PushRequestParser.route(method: "POST", uri: "/v1/topics/news",
                                              headers: [("Authorization", "Bearer \(Self.adminKey)")], policy: Self.policy)
        #expect(rejection(publish)?.status == 401)
    }

    @Test func pathsAndMethodsOutsideTheAPIAreRefusedBeforeTheKey() {
        for path in ["/v1/revocations/device", "/v1/revocations/devices/d-1", "/v1/revocations/kid/k1", "/v1/revocations/x"] {
            #expect(rejection(route("DELETE", path, key: nil))?.status == 404, "\(path)")
        }
        let collection = rejection(route("PUT", "/v1/revocations", key: nil))
        #expect(collection?.status == 405 && collection?.allow == "GET, POST")
        let one = rejection(route("GET", "/v1/revocations/device/d-1", key: nil))
        #expect(one?.status == 405 && one?.allow == "DELETE")
        #expect(rejection(route("OPTIONS", "/v1/revocations", key: nil))?.status == 405, "no CORS preflight")
        #expect(PushResponse.error(one!).headers.contains(PushResponse.Header("Allow", "DELETE")))
        #expect(PushResponse.error(.methodNotAllowed).headers.contains(PushResponse.Header("Allow", "POST, OPTIONS")),
                "the push paths keep their Allow")
    }

    @Test func aBadTargetInThePathIs400AfterTheKey() {
        #expect(rejection(route("DELETE", "/v1/revocations/device/a%20b"))?.code == "bad_device")
        #expect(rejection(route("DELETE", "/v1/revocations/device/"))?.code == "bad_device")
        #expect(rejection(route("DELETE", "/v1/revocations/device/\(String(repeating: "d", count: 129))"))?.code == "bad_device")
        #expect(rejection(route("DELETE", "/v1/revocations/key/"))?.code == "bad_kid")
        #expect(rejection(route("DELETE", "/v1/revocations/key/k%0A1"))?.code == "bad_kid")
        #expect(rejection(route("DELETE", "/v1/revocations/key/k%2"))?.code == "bad_request")
        #expect(rejection(route("DELETE", "/v1/revocations/device/a%20b", key: nil))?.status == 401, "no key: nothing about ids")
    }

    @Test func aDeclaredBodyOverFourKiBIs413WhateverThePushLimit() {
        #expect(rejection(route("POST", "/v1/revocations", headers: [(name: "Content-Length", value: "4097")]))?.status == 413)
        #expect(route("POST", "/v1/revocations", headers: [(name: "Content-Length", value: "4096")])
                == .success(RevocationRequest(.set)), "the push limit (16 bytes) does not apply")
    }

    // MARK: - The body

    @Test func aBodyNamesADeviceOrAKeyWithOptionalFields() throws {
        let device = try rule(#"{"device":"d-1","issuedBefore":1733471000,"until":1733558400,"reason":"stolen phone"}"#).get()
        #expect(device == Revocation(target: .device("d-1"), issuedBefore: 1_733_471_000, until: 1_733_558_400,
                                     reason: "stolen phone", createdAt: Self.now))
        #expect(try rule(#"{"kid":"k1"}"#).get() == Revocation(target: .key("k1"), createdAt: Self.now))
        #expect(try rule(#"{"device":"d-1","issuedBefore":null,"until":null}"#).get() == Revocation(target: .device("d-1"), createdAt: Self.now))
        #expect(try rule(#"{"device":"d-1","issuedBefore":\#(Self.now + 60)}"#).get().issuedBefore == Self.now + 60,
                "a minute of clock skew is allowed")
    }

    @Test(arguments: [
        ("", "bad_request"), ("nope", "bad_request"), ("[]", "bad_request"), (#"{"device":"d-1""#, "bad_request"),
        ("{}", "bad_target"), (#"{"device":"d-1","kid":"k1"}"#, "bad_target"), (#"{"reason":"x"}"#, "bad_target"),
        (#"{"device":"d-1","issued_before":5}"#, "bad_request"), (#"{"device":"d-1","createdAt":5}"#, "bad_request"),
        (#"{"device":7}"#, "bad_request"), (#"{"device":"d-1","issuedBefore":"now"}"#, "bad_request"),
        (#"{"device":"d-1","issuedBefore":1.5}"#, "bad_request"), (#"{"device":"d-1","until":true}"#, "bad_request"),
        (#"{"device":"d-1","reason":5}"#, "bad_request"),
        (#"{"device":"a b"}"#, "bad_device"), (#"{"device":""}"#, "bad_device"), (#"{"kid":""}"#, "bad_kid"),
        (#"{"kid":"k 1"}"#, "bad_kid"), (#"{"kid":"k1","issuedBefore":5}"#, "bad_issued_before"),
        (#"{"device":"d-1","issuedBefore":-1}"#, "bad_issued_before"),
        (#"{"device":"d-1","issuedBefore":1733472061}"#, "bad_issued_before"),
        (#"{"device":"d-1","until":1733472000}"#, "bad_until"),
        (#"{"device":"d-1","reason":"two\nlines"}"#, "bad_reason"),
        (#"{"device":"d-1","reason":"\#(String(repeating: "r", count: 257))"}"#, "bad_reason"),
    ])
    func aBadBodyIs400WithItsCode(_ body: String, _ code: String) {
        guard case .failure(let rejection) = rule(body) else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(rejection.status == 400 && rejection.code == code, "\(body): \(rejection.code) \(rejection.message)")
        #expect(!rejection.message.isEmpty)
    }

    @Test func aWrongTypeNamesTheField() {
        guard case .failure(let rejection) = rule(#"{"device":"d-1","until":"tomorrow"}"#) else { return }
        #expect(rejection.message == "until: expected an integer (Unix seconds)")
        guard case .failure(let unknown) = rule(#"{"device":"d-1","issued_before":5}"#) else { return }
        #expect(unknown.message.contains("unknown field \"issued_before\""), "\(unknown.message)")
    }

    // MARK: - Through the HTTP pipeline

    /// A connected channel with the push service's pipeline, the admin key, `keeper` and the clock at ``now``.
    func open(_ keeper: MemoryKeeper) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        let admin = RevocationAdmin(keeper: keeper, logger: Logger(label: "admin-tests"), now: { Self.now })
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(RealSocketWrites())
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(PushHTTPHandler(
                config: PushHTTPConfig(policy: Self.policy), endpoint: RecordingCarrier(), metrics: PushMetrics(), admin: admin))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8088)).get()
        return channel
    }

    func request(_ method: String, _ path: String, body: String = "") -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: push.example\r\nAuthorization: Bearer \(Self.adminKey)\r\n"
            + (body.isEmpty ? "" : "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n") + "\r\n" + body
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func setListAndLiftOnOneConnection() async throws {
        let keeper = MemoryKeeper()
        let channel = try await open(keeper)
        let body = #"{"device":"d-1","issuedBefore":1733471000,"reason":"stolen phone, case #4711"}"#
        try await channel.writeRequest(request("POST", "/v1/revocations", body: body) + request("POST", "/v1/revocations", body: #"{"kid":"k1","until":1733475600}"#)
                                       + request("GET", "/v1/revocations") + request("DELETE", "/v1/revocations/device/d-1")
                                       + request("DELETE", "/v1/revocations/device/d-1"))
        var reader = ResponseReader()
        let created = try await channel.waitForResponse(&reader)
        #expect(created.status == 201 && created.header("Content-Type") == "application/json" && created.header("Cache-Control") == "no-store")
        #expect(created.body == #"{"device":"d-1","issuedBefore":1733471000,"reason":"stolen phone, case #4711","createdAt":1733472000,"lapsed":false}"#)
        #expect(try await channel.waitForResponse(&reader).status == 201)

        let listed = try await channel.waitForResponse(&reader)
        #expect(listed.status == 200)
        let rules = try #require(try object(listed.body)["revocations"] as? [[String: Any]])
        #expect(rules.map { ($0["device"] ?? $0["kid"]) as? String } == ["d-1", "k1"], "devices first")
        #expect(rules[1]["until"] as? Int == 1_733_475_600 && rules[1]["lapsed"] as? Bool == false)

        #expect(try await channel.waitForResponse(&reader).status == 204)
        let missing = try await channel.waitForResponse(&reader)
        #expect(missing.status == 404 && missing.body.contains(#""error":"not_found""#) && missing.body.contains("device d-1"))
        #expect(await keeper.rules.keys.map { $0 } == [.key("k1")])
        #expect(channel.isActive)
        #expect(try await channel.finish().isClean)
    }

    @Test func aBadBodyIs400AndNothingIsWritten() async throws {
        let keeper = MemoryKeeper()
        let channel = try await open(keeper)
        try await channel.writeRequest(request("POST", "/v1/revocations", body: #"{"device":"d-1","issued_before":1}"#))
        var reader = ResponseReader()
        let refused = try await channel.waitForResponse(&reader)
        #expect(refused.status == 400 && refused.body.contains(#""error":"bad_request""#))
        #expect(await keeper.rules.isEmpty)
        #expect(try await channel.finish().isClean)
    }

    @Test func aRedisFailureIs503WithRetryAfter() async throws {
        let keeper = MemoryKeeper()
        await keeper.fail()
        let channel = try await open(keeper)
        try await channel.writeRequest(request("GET", "/v1/revocations") + request("POST", "/v1/revocations", body: #"{"kid":"k1"}"#)
                                       + request("DELETE", "/v1/revocations/key/k1"))
        var reader = ResponseReader()
        for _ in 0..<3 {
            let response = try await channel.waitForResponse(&reader)
            #expect(response.status == 503 && response.header("Retry-After") == "2" && response.body.contains("unavailable"))
        }
        #expect(try await channel.finish().isClean)
    }

    @Test func aLapsedRuleIsListedAsLapsed() async throws {
        let keeper = MemoryKeeper()
        try await keeper.set(Revocation(target: .device("old"), until: Self.now, createdAt: 1))
        let admin = RevocationAdmin(keeper: keeper, logger: Logger(label: "admin-tests"), now: { Self.now })
        let listed = await admin.carry(RevocationRequest(.list), body: [])
        #expect(String(decoding: listed.body, as: UTF8.self)
                == #"{"revocations":[{"device":"old","until":1733472000,"reason":"","createdAt":1,"lapsed":true}]}"#)
    }
}
