import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Testing

/// `gateway revoke` as an operator runs it, against the shared cluster's Redis and edges, and the push service's admin
/// API (`/v1/revocations`) on a `gateway push` of its own. Rules the tests list are under a prefix of their own, so
/// rules other tests set at the same time do not show; the edges follow prefix `cg`.
@Suite(.timeLimit(.minutes(3)))
struct RevokeCommandTests {
    let gateway = TestCluster.gatewayExecutable
    /// An admin key of the push service started by ``theAdminAPIWritesWhatTheCommandReads()``.
    static let adminKey = "revocation-admin-key-0123456789"

    /// Runs `gateway revoke <arguments>` against the shared cluster's Redis (prefix `prefix`).
    func revoke(_ arguments: [String], prefix: String = "cg") async throws -> (status: Int32, output: String) {
        let redis = try await TestCluster.shared.redis.port
        return try await run(["revoke"] + arguments + ["--redis", "127.0.0.1:\(redis)", "--prefix", prefix], name: "revoke")
    }

    func run(_ arguments: [String], name: String) async throws -> (status: Int32, output: String) {
        let process = try LocalProcess(name: name, executable: gateway, arguments: arguments)
        await process.exit(within: 30)
        return (process.stop(grace: 1), process.output(lastLines: 400))
    }

    /// A prefix no other test uses.
    func uniquePrefix() -> String { "rv\(UInt32.random(in: 0...UInt32.max))" }

    /// The close code of `client`'s connection, waiting at most `seconds`.
    func closeCode(_ client: DeviceClient, within seconds: Double) async throws -> UInt16? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if case .closed(let code) = try await client.nextEvent(within: max(0.1, deadline.timeIntervalSinceNow)) { return code }
        }
    }

    func hello(_ device: String, edge: Int, token: String) async throws -> DeviceClient {
        let client = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(edge))
        _ = try await client.hello(device: device, token: token)
        return client
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    // MARK: - The command

    @Test func revokingADeviceClosesItsConnectionAndLiftingLetsItBack() async throws {
        let device = TestCluster.uniqueDevice("cli-revoked")
        let client = try await hello(device, edge: 0, token: try await TestCluster.token(device))
        let set = try await revoke(["device", device, "--reason", "stolen phone"])
        #expect(set.status == 0, "\(set.output)")
        #expect(set.output.contains("revoked device \(device): every token, until lifted (reason: stolen phone)"), "\(set.output)")
        #expect(try await closeCode(client, within: 5) == CloseCode.revoked.rawValue)

        // Every token of the device is refused, a new one too, until the rule is lifted.
        let again = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(1))
        await #expect(throws: DeviceClient.Failure.self) { _ = try await again.hello(device: device, token: try await TestCluster.token(device)) }
        await again.close()

        let lifted = try await revoke(["lift", "device", device])
        #expect(lifted.status == 0 && lifted.output.contains("lifted the revocation of device \(device)"), "\(lifted.output)")
        try await Task.sleep(for: .milliseconds(300))
        await (try await hello(device, edge: 1, token: try await TestCluster.token(device))).close()

        let twice = try await revoke(["lift", "device", device])
        #expect(twice.status == 1 && twice.output.contains("no revocation of device \(device) is in force; nothing lifted"), "\(twice.output)")
    }

    @Test func issuedBeforeNowStopsTheOldTokenAndNotANewOne() async throws {
        let device = TestCluster.uniqueDevice("cli-issued")
        let old = try await TestCluster.token(device)
        let client = try await hello(device, edge: 1, token: old)
        let set = try await revoke(["device", device, "--issued-before", "now", "--for", "1h"])
        #expect(set.status == 0 && set.output.contains("revoked device \(device): tokens issued at or before"), "\(set.output)")
        #expect(try await closeCode(client, within: 5) == CloseCode.revoked.rawValue)
        try await Task.sleep(for: .seconds(1.1))  // iat is in whole seconds: a token of the next second passes
        await (try await hello(device, edge: 0, token: try await TestCluster.token(device))).close()
        let refused = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(0))
        await #expect(throws: DeviceClient.Failure.self) { _ = try await refused.hello(device: device, token: old) }
        await refused.close()
        #expect(try await revoke(["lift", "device", device]).status == 0)
    }

    @Test func listShowsEveryRuleAsATableOrAsJSONAndMarksLapsedOnes() async throws {
        let prefix = uniquePrefix()
        #expect(try await revoke(["list"], prefix: prefix).output.contains("no revocations"))
        let key = try await revoke(["key", "k-old", "--reason", "key leaked"], prefix: prefix)
        #expect(key.status == 0 && key.output.contains("revoked key k-old: every token signed with it, until lifted (reason: key leaked)"),
                "\(key.output)")
        #expect(try await revoke(["device", "d-1", "--issued-before", "2026-01-02T03:04:05Z", "--for", "7d"], prefix: prefix).status == 0)
        #expect(try await revoke(["device", "d-2", "--issued-before", "1700000000", "--for", "1s"], prefix: prefix).status == 0)
        let replaced = try await revoke(["device", "d-2", "--for", "1s", "--reason", "all of them"], prefix: prefix)
        #expect(replaced.output.contains("it replaces the rule set"), "\(replaced.output)")
        try await Task.sleep(for: .seconds(1.2))

        let table = try await revoke(["list"], prefix: prefix)
        #expect(table.status == 0, "\(table.output)")
        let lines = table.output.split(separator: "\n").map(String.init)
        let header = try #require(lines.first, "\(table.output)")
        let columns = ["TARGET", "ISSUED-BEFORE", "UNTIL", "REASON", "CREATED"].compactMap { header.range(of: $0)?.lowerBound }
        #expect(header.hasPrefix("TARGET") && columns.count == 5 && columns == columns.sorted(), "\(table.output)")
        let d1 = try #require(lines.first { $0.hasPrefix("device d-1 ") }, "\(table.output)")
        #expect(d1.contains("2026-01-02T03:04:05Z") && !d1.contains("lapsed"))
        let d2 = try #require(lines.first { $0.hasPrefix("device d-2 ") }, "\(table.output)")
        #expect(d2.contains("every token") && d2.contains("(lapsed)") && d2.contains("all of them"))
        let kOld = try #require(lines.first { $0.hasPrefix("key k-old ") }, "\(table.output)")
        #expect(kOld.contains("until lifted") && kOld.contains("key leaked"))
        #expect(lines.firstIndex(of: d1)! < lines.firstIndex(of: kOld)!, "devices before keys")
        #expect(table.output.contains("lapsed rules stop nothing"))

        let json = try await revoke(["list", "--json"], prefix: prefix)
        let rules = try #require(try Self.object(json.output)["revocations"] as? [[String: Any]], "\(json.output)")
        #expect(rules.count == 3)
        #expect(rules[0]["device"] as? String == "d-1" && rules[0]["issuedBefore"] as? Int == 1_767_323_045)
        #expect(rules[1]["device"] as? String == "d-2" && rules[1]["lapsed"] as? Bool == true)
        #expect(rules[2]["kid"] as? String == "k-old" && rules[2]["lapsed"] as? Bool == false && rules[2]["until"] == nil)
    }

    @Test func badArgumentsAreUsageErrorsAndAnUnreachableRedisIs69() async throws {
        for (arguments, message) in [
            (["device", "a b"], "device id: a device id is 1 to 128 characters"),
            (["device", "d-1", "--for", "soon"], "--for: expected a duration like 90s"),
            (["device", "d-1", "--issued-before", "yesterday"], "--issued-before: expected now, Unix seconds, or ISO-8601"),
            (["device", "d-1", "--issued-before", "2999-01-01T00:00:00Z"], "--issued-before: the issued-before time is in the future"),
            (["key", "k 1"], "kid: a key id (kid) is 1 to 128 bytes"),
            (["device", "d-1", "--reason", "two\nlines"], "--reason: the reason must be one line"),
            (["lift", "device", ""], "device id:"),
        ] {
            let (status, output) = try await revoke(arguments)
            #expect(status == 64 && output.contains(message), "\(arguments): \(status) \(output)")
        }
        let dead = try FreePort.next()
        let process = try LocalProcess(name: "revoke-no-redis", executable: gateway,
                                       arguments: ["revoke", "device", "d-1", "--redis", "127.0.0.1:\(dead)"])
        await process.exit(within: 30)
        let output = process.output(lastLines: 50)
        #expect(process.stop(grace: 1) == 69)
        #expect(output.contains("error: ") && output.contains("cannot reach Redis at 127.0.0.1:\(dead)"), "\(output)")
    }

    // MARK: - The admin API

    @Test func withoutAdminKeysThePushServiceAnswers403() async throws {
        let url = try #require(try await TestCluster.shared.pushURL)
        let reply = try await HTTPTestClient.send(url, "GET", "/v1/revocations", headers: [("Authorization", "Bearer \(Self.adminKey)")])
        #expect(reply.status == 403 && reply.text.contains(#""error":"admin_disabled""#), "\(reply.text)")
    }

    @Test func adminKeysAreCheckedAtStartAndRedactedByPrintConfig() async throws {
        let printed = try await run(["push", "--print-config", "--admin-api-keys", Self.adminKey], name: "push-print-config")
        #expect(printed.status == 0, "\(printed.output)")
        #expect(try Self.object(printed.output)["admin-api-keys"] as? String == "<redacted>")
        #expect(!printed.output.contains(Self.adminKey))
        let short = try await run(["push", "--print-config", "--admin-api-keys", "short"], name: "push-short-key")
        #expect(short.status == 64 && short.output.contains("--admin-api-keys: keys of at least 16 characters"), "\(short.output)")
        let shared = try await run(["push", "--print-config", "--admin-api-keys", Self.adminKey, "--api-key", Self.adminKey],
                                   name: "push-shared-key")
        #expect(shared.status == 64 && shared.output.contains("must not also be an --api-key"), "\(shared.output)")
    }

    @Test func theAdminAPIWritesWhatTheCommandReads() async throws {
        let cluster = try await TestCluster.shared
        let prefix = uniquePrefix()
        let port = try FreePort.next()
        let push = try LocalProcess(name: "push-admin", executable: gateway, arguments: [
            "push", "--port", "\(port)", "--kafka", cluster.broker.bootstrap, "--redis", "127.0.0.1:\(cluster.redis.port)",
            "--prefix", prefix, "--admin-api-keys", "other-admin-key-0123456789,\(Self.adminKey)", "--exit-with-stdin",
        ])
        defer { _ = push.stop(grace: 5) }
        try await push.line(containing: "push ready", timeout: 90)
        let api = try await HTTPTestClient.connect("http://127.0.0.1:\(port)")
        let auth = [("Authorization", "Bearer \(Self.adminKey)")]
        func post(_ json: String) async throws -> HTTPReply {
            try await api.request("POST", "/v1/revocations", headers: auth + [("Content-Type", "application/json")], body: Array(json.utf8))
        }

        let created = try await post(#"{"device":"d-api","issuedBefore":1733472000,"reason":"lost"}"#)
        #expect(created.status == 201, "\(created.text)")
        #expect(try Self.object(created.text)["issuedBefore"] as? Int == 1_733_472_000)
        #expect(try await post(#"{"kid":"k-api","until":4102444800}"#).status == 201)
        let listed = try await revoke(["list", "--json"], prefix: prefix)
        let rules = try #require(try Self.object(listed.output)["revocations"] as? [[String: Any]], "\(listed.output)")
        #expect(rules.map { ($0["device"] ?? $0["kid"]) as? String } == ["d-api", "k-api"])
        #expect(rules[0]["reason"] as? String == "lost")

        // What the command sets, the API lists; what it lifts, the API no longer finds.
        #expect(try await revoke(["key", "k-cli"], prefix: prefix).status == 0)
        let all = try await api.request("GET", "/v1/revocations", headers: auth)
        #expect(all.status == 200 && all.text.contains(#""kid":"k-cli""#), "\(all.text)")
        #expect(try await revoke(["lift", "device", "d-api"], prefix: prefix).status == 0)
        #expect(try await api.request("DELETE", "/v1/revocations/device/d-api", headers: auth).status == 404)
        #expect(try await api.request("DELETE", "/v1/revocations/key/k-api", headers: auth).status == 204)
        #expect(try await revoke(["lift", "key", "k-api"], prefix: prefix).status == 1)

        // Refusals answer with a JSON error and keep the connection.
        let unauthorized = try await api.request("GET", "/v1/revocations", headers: [("Authorization", "Bearer other-admin-key-01234567")])
        #expect(unauthorized.status == 401 && unauthorized.text.contains(#""error":"unauthorized""#))
        let bad = try await post(#"{"device":"d-1","issued_before":1}"#)
        #expect(bad.status == 400 && bad.text.contains("unknown field"), "\(bad.text)")
        let other = try await api.request("GET", "/v1/revocations", headers: [("Authorization", "Bearer other-admin-key-0123456789")])
        #expect(other.status == 200 && other.text.contains("k-cli"), "every admin key works")
        await api.close()
    }
}
