import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Testing

/// The push service end to end (docs/push.md): devices subscribe over the channel, an app server POSTs to the
/// subscription's endpoint, and the device gets the notification now or when it reconnects within the TTL. Real
/// `gateway push`, Redis and Tansu, from the shared cluster (rate 5 per minute, one API key).
@Suite(.timeLimit(.minutes(3)))
struct PushTests {
    // MARK: - Helpers

    /// Sends a device op and returns the reply's body (the reply has id `push-<id>`).
    func op(_ client: DeviceClient, _ json: String, id: String? = nil) async throws -> [String: Any] {
        let sent = try await client.send(service: "push", json: json, id: id)
        let reply = try await client.nextMessage(within: 30)
        #expect(reply.service == "push" && reply.id == "push-\(sent)")
        return try Self.object(reply.payload.bytes)
    }

    /// Subscribes and returns the subscription id (checking the reply's shape on the way).
    func subscribe(_ client: DeviceClient, extra: String = "", on redis: TestRedis = .standalone) async throws -> String {
        let reply = try await op(client, #"{"op":"subscribe"\#(extra)}"#)
        #expect(reply["op"] as? String == "subscribed")
        let id = try #require(reply["subscription"] as? String)
        let base = try #require(try await redis.cluster.pushURL)
        #expect(reply["endpoint"] as? String == "\(base)/v1/push/\(id)")
        return id
    }

    /// POSTs a push with the cluster's API key.
    func push(_ subscription: String, ttl: String? = "60", body: [UInt8] = Array("hi".utf8), headers: [(String, String)] = [],
              key: String? = TestCluster.pushAPIKey, on redis: TestRedis = .standalone) async throws -> HTTPReply {
        var all = headers
        if let ttl { all.append(("TTL", ttl)) }
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        return try await HTTPTestClient.send(try await pushURL(on: redis), "POST", "/v1/push/\(subscription)", headers: all, body: body)
    }

    func pushURL(on redis: TestRedis = .standalone) async throws -> String { try #require(try await redis.cluster.pushURL) }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    func error(_ reply: HTTPReply) throws -> String? { try Self.object(reply.body)["error"] as? String }

    // MARK: - Tests

    @Test(arguments: TestRedis.allCases)
    func aPushReachesAConnectedDevice(on redis: TestRedis) async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-live"), edge: 0, on: redis)
        let subscription = try await subscribe(device, extra: #","label":"Mail""#, on: redis)

        let created = try await push(subscription, body: Array("héllo \"world\"".utf8), headers: [("Urgency", "high"), ("Topic", "inbox")], on: redis)
        #expect(created.status == 201)
        #expect(created.header("TTL") == "60")
        #expect(created.header("Access-Control-Allow-Origin") == "*")
        let messageID = try #require(try Self.object(created.body)["id"] as? String)
        #expect(created.header("Location") == "/v1/push/messages/\(messageID)")

        let note = try await device.nextMessage(within: 30)
        #expect(note.service == "push" && note.id == "push-n-\(messageID)")
        let body = try Self.object(note.payload.bytes)
        #expect(body["op"] as? String == "notification")
        #expect(body["subscription"] as? String == subscription)
        #expect(body["label"] as? String == "Mail")
        #expect(body["urgency"] as? String == "high")
        #expect(body["topic"] as? String == "inbox")
        #expect(body["ttl"] as? Int == 60)
        #expect(body["text"] as? String == "héllo \"world\"")

        let binary: [UInt8] = [0xFF, 0x00, 0xC3, 0x28]
        #expect(try await push(subscription, body: binary, on: redis).status == 201)
        let second = try Self.object(try await device.nextMessage(within: 30).payload.bytes)
        #expect(second["data"] as? String == Data(binary).base64EncodedString() && second["text"] == nil)
        #expect(second["urgency"] as? String == "normal" && second["topic"] == nil)
        await device.close()
    }

    @Test(arguments: TestRedis.allCases)
    func anOfflineDeviceGetsThePushWhenItReconnectsWithinTheTTL(on redis: TestRedis) async throws {
        let name = TestCluster.uniqueDevice("push-offline")
        let device = try await TestCluster.connect(name, edge: 0, on: redis)
        let subscription = try await subscribe(device, on: redis)
        await device.close()

        #expect(try await push(subscription, ttl: "60", body: Array("while you were out".utf8), on: redis).status == 201)
        let again = try await TestCluster.connect(name, edge: 1, on: redis)
        // The subscribe reply may come again first: its ack reached edge 0 as the device left, and the new hello on
        // edge 1 can read the mailbox before edge 0 has removed it (at least once, same id).
        var body = try Self.object(try await again.nextMessage(within: 30).payload.bytes)
        if body["op"] as? String == "subscribed" { body = try Self.object(try await again.nextMessage(within: 30).payload.bytes) }
        #expect(body["text"] as? String == "while you were out")
        await again.close()
    }

    @Test func anExpiredPushIsNeverDelivered() async throws {
        let name = TestCluster.uniqueDevice("push-expiry")
        let device = try await TestCluster.connect(name, edge: 0)
        let subscription = try await subscribe(device)
        await device.close()

        #expect(try await push(subscription, ttl: "1", body: Array("old".utf8)).status == 201)
        let zero = try await push(subscription, ttl: "0", body: Array("now or never".utf8))
        #expect(zero.status == 201 && zero.header("TTL") == "0")
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await push(subscription, ttl: "60", body: Array("new".utf8)).status == 201)

        // The mailbox delivers oldest first, so had "old" or "now or never" survived, it would come before "new". The
        // subscribe reply may come again first, as above: the device left right after it.
        let again = try await TestCluster.connect(name, edge: 1)
        var body = try Self.object(try await again.nextMessage(within: 30).payload.bytes)
        if body["op"] as? String == "subscribed" { body = try Self.object(try await again.nextMessage(within: 30).payload.bytes) }
        #expect(body["text"] as? String == "new")
        await again.close()
    }

    @Test func unknownSubscriptionsAre404() async throws {
        let unknown = try await push("AAAAAAAAAAAAAAAAAAAAAA")
        #expect(unknown.status == 404)
        #expect(try error(unknown) == "not_found")
        #expect(try await HTTPTestClient.send(try await pushURL(), "POST", "/v1/other", headers: [("TTL", "1")]).status == 404)
        #expect(try await HTTPTestClient.send(try await pushURL(), "GET", "/v1/push/AAAAAAAAAAAAAAAAAAAAAA").status == 405)
    }

    @Test(arguments: TestRedis.allCases)
    func unsubscribedIs410AndOnlyTheOwnerMayUnsubscribe(on redis: TestRedis) async throws {
        let owner = try await TestCluster.connect(TestCluster.uniqueDevice("push-owner"), edge: 0, on: redis)
        let stranger = try await TestCluster.connect(TestCluster.uniqueDevice("push-stranger"), edge: 1, on: redis)
        let subscription = try await subscribe(owner, on: redis)

        let refused = try await op(stranger, #"{"op":"unsubscribe","subscription":"\#(subscription)"}"#)
        #expect(refused["op"] as? String == "error" && refused["code"] as? String == "not_found")
        let unknown = try await op(owner, #"{"op":"unsubscribe","subscription":"BBBBBBBBBBBBBBBBBBBBBB"}"#)
        #expect(unknown["code"] as? String == "not_found")

        let done = try await op(owner, #"{"op":"unsubscribe","subscription":"\#(subscription)"}"#)
        #expect(done["op"] as? String == "unsubscribed" && done["subscription"] as? String == subscription)
        let gone = try await push(subscription, on: redis)
        #expect(gone.status == 410)
        #expect(try error(gone) == "gone")
        let list = try await op(owner, #"{"op":"list"}"#)
        #expect((list["subscriptions"] as? [Any])?.isEmpty == true)
        await owner.close()
        await stranger.close()
    }

    @Test func aSubscriptionPastItsExpiresIs410() async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-expires"), edge: 0)
        let started = Date()
        let reply = try await op(device, #"{"op":"subscribe","expires":1}"#)
        let subscription = try #require(reply["subscription"] as? String)
        let answered = Date()
        let expires = Double(try #require((reply["expires"] as? NSNumber)?.int64Value)) / 1000
        #expect(expires >= started.timeIntervalSince1970 && expires <= answered.timeIntervalSince1970 + 2,
                "expires is the time of the subscribe + 1 s, in ms")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await push(subscription).status == 410)
        await device.close()
    }

    @Test(arguments: TestRedis.allCases)
    func listShowsTheDevicesSubscriptionsAndARepeatedSubscribeGetsTheSameOne(on redis: TestRedis) async throws {
        let name = TestCluster.uniqueDevice("push-repeat")
        let first = try await TestCluster.connect(name, edge: 0, on: redis)
        let a = try await subscribe(first, extra: #","label":"A""#, on: redis)
        let b = try await op(first, #"{"op":"subscribe","label":"B"}"#, id: "sub-b")
        await first.close()

        // The same device message again, as after a lost ack: the service must answer with the same subscription.
        // A new connection, so the client does not drop the repeated reply id as a duplicate.
        let second = try await TestCluster.connect(name, edge: 1, on: redis)
        let repeated = try await op(second, #"{"op":"subscribe","label":"B"}"#, id: "sub-b")
        #expect(repeated["subscription"] as? String == b["subscription"] as? String)
        #expect(repeated["label"] as? String == "B")

        let list = try await op(second, #"{"op":"list"}"#)
        #expect(list["op"] as? String == "subscriptions")
        let entries = try #require(list["subscriptions"] as? [[String: Any]])
        #expect(entries.compactMap { $0["subscription"] as? String } == [a, try #require(b["subscription"] as? String)])
        #expect(entries.map { $0["label"] as? String } == ["A", "B"])
        #expect(entries.allSatisfy { $0["expires"] is NSNull && ($0["endpoint"] as? String)?.contains("/v1/push/") == true })
        await second.close()
    }

    @Test func aDeviceHoldsAtMostAHundredLiveSubscriptions() async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-many"), edge: 0)
        // One expiring subscription that lapses first: dead ones do not count.
        _ = try await subscribe(device, extra: #","expires":1"#)
        try await Task.sleep(for: .milliseconds(1100))
        var first = ""
        for i in 0..<100 {
            let id = try await subscribe(device)
            if i == 0 { first = id }
            try await Task.sleep(for: .milliseconds(45))  // two WebSocket messages each: under the edge's 50/s
        }
        let refused = try await op(device, #"{"op":"subscribe"}"#)
        #expect(refused["op"] as? String == "error" && refused["code"] as? String == "too_many")
        #expect(try await op(device, #"{"op":"unsubscribe","subscription":"\#(first)"}"#)["op"] as? String == "unsubscribed")
        _ = try await subscribe(device)
        await device.close()
    }

    @Test func badDeviceOpsGetABadRequestReply() async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-bad"), edge: 0)
        for json in [#"{"op":"fly"}"#, #"{"op":"subscribe","expires":0}"#, #"[1]"#, #"{"op":"unsubscribe"}"#] {
            let reply = try await op(device, json)
            #expect(reply["op"] as? String == "error" && reply["code"] as? String == "bad_request", "\(json)")
            #expect((reply["message"] as? String)?.isEmpty == false)
        }
        let sent = try await device.send(service: "push", payload: .binary([1, 2, 3]))
        let reply = try await device.nextMessage(within: 30)
        #expect(reply.id == "push-\(sent)")
        #expect(try Self.object(reply.payload.bytes)["code"] as? String == "bad_request")
        await device.close()
    }

    @Test func headersAreCheckedTooLargeIs413AndKeysAreRequired() async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-checks"), edge: 0)
        let subscription = try await subscribe(device)
        await device.close()

        let noTTL = try await push(subscription, ttl: nil)
        #expect(try noTTL.status == 400 && error(noTTL) == "bad_ttl")
        #expect(try await push(subscription, ttl: "-1").status == 400)
        let urgency = try await push(subscription, headers: [("Urgency", "asap")])
        #expect(try urgency.status == 400 && error(urgency) == "bad_urgency")
        #expect(try await push(subscription, headers: [("Topic", "not a topic")]).status == 400)
        #expect(try await push(subscription, key: nil).status == 401)
        #expect(try await push(subscription, key: "wrong").status == 401)

        let client = try await HTTPTestClient.connect(try await pushURL())
        let big = try await client.request("POST", "/v1/push/\(subscription)", headers: [
            ("TTL", "60"), ("Authorization", "Bearer \(TestCluster.pushAPIKey)"),
        ], body: [UInt8](repeating: 0x41, count: 4097))
        #expect(try big.status == 413 && error(big) == "payload_too_large")
        #expect(await client.closedByServer(), "the unread body is not taken for a request: the connection closes")
    }

    @Test(arguments: TestRedis.allCases)
    func overTheRateIs429WithRetryAfter(on redis: TestRedis) async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-rate"), edge: 0, on: redis)
        let subscription = try await subscribe(device, on: redis)
        await device.close()
        // Windows are whole minutes: start early in one, so all the pushes land in the same window.
        let second = Int(Date().timeIntervalSince1970) % 60
        if second > 50 { try await Task.sleep(for: .seconds(61 - second)) }

        let client = try await HTTPTestClient.connect(try await pushURL(on: redis))
        let headers = [("TTL", "30"), ("Authorization", "Bearer \(TestCluster.pushAPIKey)")]
        for i in 1...TestCluster.pushRatePerMinute {
            let reply = try await client.request("POST", "/v1/push/\(subscription)", headers: headers, body: Array("n\(i)".utf8))
            #expect(reply.status == 201, "push \(i) of \(TestCluster.pushRatePerMinute), on one keep-alive connection")
        }
        let limited = try await client.request("POST", "/v1/push/\(subscription)", headers: headers, body: Array("over".utf8))
        #expect(try limited.status == 429 && error(limited) == "rate_limited")
        let retryAfter = try #require(limited.header("Retry-After").flatMap { Int($0) })
        #expect((1...60).contains(retryAfter))
        await client.close()
    }

    @Test func oneKeepAliveConnectionServesRequestsInTurn() async throws {
        let device = try await TestCluster.connect(TestCluster.uniqueDevice("push-keepalive"), edge: 0)
        let subscription = try await subscribe(device)
        let client = try await HTTPTestClient.connect(try await pushURL())
        let auth = ("Authorization", "Bearer \(TestCluster.pushAPIKey)")
        #expect(try await client.request("POST", "/v1/push/AAAAAAAAAAAAAAAAAAAAAA", headers: [("TTL", "5"), auth], body: [1]).status == 404)
        #expect(try await client.request("OPTIONS", "/v1/push/\(subscription)").status == 204)
        let continued = try await client.request("POST", "/v1/push/\(subscription)", headers: [
            ("TTL", "30"), auth, ("Expect", "100-continue"),
        ], body: Array("after a 100 Continue".utf8))
        #expect(continued.status == 201, "Expect: 100-continue is answered, then the push is taken")
        #expect(try Self.object(try await device.nextMessage(within: 30).payload.bytes)["text"] as? String == "after a 100 Continue")
        await client.close()
        await device.close()
    }

    @Test func corsPreflightAndTheMetrics() async throws {
        let preflight = try await HTTPTestClient.send(try await pushURL(), "OPTIONS", "/v1/push/AAAAAAAAAAAAAAAAAAAAAA", headers: [
            ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "ttl, urgency, authorization"),
        ])
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == "*")
        #expect(preflight.header("Access-Control-Allow-Methods") == "POST")
        #expect(preflight.header("Access-Control-Allow-Headers") == "TTL, Urgency, Topic, Content-Type, Authorization")
        #expect(preflight.header("Access-Control-Expose-Headers")?.contains("Location, TTL") == true)

        let cluster = try await TestCluster.shared
        let metrics = try await Admin.get(try #require(cluster.adminURL("push")) + "/metrics").body
        #expect(metrics.contains(#"cg_push_requests_total{status="204"}"#))
        #expect(metrics.contains("cg_push_seconds"))
    }
}
