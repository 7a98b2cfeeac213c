import Foundation
import Testing

/// Keys, scopes and bad input at `gateway api` (docs/api.md, "Errors" and "Limits"): every refusal has the documented
/// status and JSON error body, and none leaves the connection stuck.
@Suite(.timeLimit(.minutes(3)))
struct APIAccessTests {
    @Test func noKeyOrAnUnknownKeyIs401() async throws {
        for key in [nil, "not-a-key-of-this-server", ""] as [String?] {
            let reply = try await API.call("GET", "/v1/devices/d-1", key: key)
            #expect(try reply.status == 401 && (API.error(reply)) == "unauthorized")
        }
        let basic = try await API.call("GET", "/v1/devices/d-1", key: nil, headers: [("Authorization", "Basic \(TestCluster.apiAllKey)")])
        #expect(basic.status == 401)
    }

    @Test func aKeyWithoutTheOperationsScopeIs403() async throws {
        let cases: [(String, String, String?, String)] = [
            ("POST", "/v1/messages", API.sendBody(devices: ["d-1"]), TestCluster.apiReadKey),
            ("POST", "/v1/messages", API.sendBody(devices: ["d-1"]), TestCluster.apiAdminKey),
            ("GET", "/v1/devices/d-1", nil, TestCluster.apiSendKey),
            ("GET", "/v1/devices/d-1", nil, TestCluster.apiAdminKey),
            ("DELETE", "/v1/devices/d-1/mailbox", nil, TestCluster.apiReadKey),
            ("POST", "/v1/edges/edge-1/drain", nil, TestCluster.apiSendKey),
        ]
        for (method, path, json, key) in cases {
            let reply = try await API.call(method, path, key: key, json: json)
            #expect(reply.status == 403, "\(method) \(path)")
            #expect(try API.error(reply) == "forbidden")
        }
    }

    @Test func anUnknownPathIs404WithTheErrorBody() async throws {
        let reply = try await API.call("GET", "/v1/nothing-here")
        #expect(try reply.status == 404 && (API.error(reply)) == "not_found")
    }

    @Test func malformedJSONAndBrokenRulesAre400() async throws {
        let bodies = [
            "{not json", #"{"devices":["d-1"],"body":1}"#, #"{"service":"echo","devices":"d-1","body":1}"#,
            API.sendBody(devices: []), API.sendBody(devices: ["d-1", "d-1"]), API.sendBody(devices: ["d-1"], body: nil),
            API.sendBody(devices: ["d-1"], extra: #","data":"AA==""#),
            API.sendBody(devices: ["d-1"], extra: #","ttl":2592001"#), API.sendBody(devices: ["d-1"], extra: #","ttl":-1"#),
            API.sendBody(devices: [String(repeating: "x", count: 129)]),
        ]
        for body in bodies {
            let reply = try await API.call("POST", "/v1/messages", json: body)
            #expect(reply.status == 400, "\(body.prefix(80)): \(reply.status) \(reply.text)")
            #expect(try API.error(reply) == "bad_request")
        }
    }

    @Test func aTenMegabyteBodyIs413AndTheServerStaysResponsive() async throws {
        let big = Array(repeating: UInt8(ascii: "a"), count: 10 << 20)
        let client = try await HTTPTestClient.connect(try await API.url)
        let reply = try await client.request("POST", "/v1/messages", headers: [("Authorization", "Bearer \(TestCluster.apiSendKey)"),
                                                                              ("Content-Type", "application/json")], body: big)
        #expect(try reply.status == 413 && (API.error(reply)) == "too_large")
        // The rest of the body was dropped as it arrived: the same connection answers the next request.
        let next = try await client.request("GET", "/v1/devices/d-1", headers: [("Authorization", "Bearer \(TestCluster.apiReadKey)")])
        #expect(next.status == 200)
        await client.close()
        #expect(try await API.call("GET", "/v1/devices/d-1").status == 200)
    }

    @Test func aChunkedBodyOverTheLimitIs413WithTheErrorBody() async throws {
        let big = Array(repeating: UInt8(ascii: "a"), count: TestCluster.apiMaxBodyBytes + 100_000)
        let client = try await HTTPTestClient.connect(try await API.url)
        let reply = try await client.request("POST", "/v1/messages", headers: [("Authorization", "Bearer \(TestCluster.apiSendKey)"),
                                                                              ("Content-Type", "application/json")],
                                             body: big, chunked: true)
        #expect(try reply.status == 413 && (API.error(reply)) == "too_large", "\(reply.status) \(reply.text)")
        await client.close()
        // Under the limit, chunked, it is read and judged like any body.
        let small = try await HTTPTestClient.connect(try await API.url)
        let body = Array(API.sendBody(devices: [TestCluster.uniqueDevice("chunked")]).utf8)
        let sent = try await small.request("POST", "/v1/messages", headers: [("Authorization", "Bearer \(TestCluster.apiSendKey)"),
                                                                            ("Content-Type", "application/json")],
                                           body: body, chunked: true)
        #expect(sent.status == 201, "\(sent.status) \(sent.text)")
        await small.close()
    }

    @Test func aBadQueryParameterIsNamedInThe400() async throws {
        let reply = try await API.call("GET", "/v1/devices/d-1/mailbox?limit=abc", key: TestCluster.apiReadKey)
        #expect(try reply.status == 400 && (API.error(reply)) == "bad_request")
        #expect(try (API.object(reply)["message"] as? String)?.contains("limit") == true, "\(reply.text)")
    }

    @Test func aHundredThousandDevicesAreRefused() async throws {
        let devices = (0..<100_000).map { "d-\($0)" }
        let reply = try await API.call("POST", "/v1/messages", json: API.sendBody(devices: devices))
        #expect(reply.status == 413 || reply.status == 400)
        #expect(try ["too_large", "bad_request"].contains(API.error(reply)))
        // Under the body limit but over 1000 devices: 400.
        let many = try await API.call("POST", "/v1/messages", json: API.sendBody(devices: (0..<1001).map { "d\($0)" }))
        #expect(try many.status == 400 && (API.object(many)["message"] as? String)?.contains("1000") == true)
    }

    @Test func theDocumentIsServedWithoutAKeyByteForByte() async throws {
        let reply = try await API.call("GET", "/openapi.yaml", key: nil)
        #expect(reply.status == 200)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml")
        #expect(try reply.body == Array(Data(contentsOf: source)))
    }

    @Test func keysNeverReachTheLogOnlyTheirFingerprints() async throws {
        let wrong = "a-wrong-key-that-must-not-be-logged-0123456789"
        _ = try await API.call("GET", "/v1/devices/d-log", key: wrong)
        _ = try await API.call("POST", "/v1/messages", key: TestCluster.apiReadKey, json: API.sendBody(devices: ["d-log"]))
        _ = try await API.call("GET", "/v1/devices/d-log", key: TestCluster.apiReadKey)
        let directory = try #require(try await TestCluster.shared.options.logDirectory)
        let log = try String(contentsOfFile: directory + "/api.log", encoding: .utf8)
        #expect(log.contains("api keys: key "), "the start names the keys by fingerprint")
        for key in [TestCluster.apiSendKey, TestCluster.apiReadKey, TestCluster.apiAdminKey, TestCluster.apiAllKey, wrong] {
            #expect(!log.contains(key), "a secret in api.log")
        }
    }

    @Test func theMetricsCountAnswersByOperationAndStatus() async throws {
        _ = try await API.call("GET", "/v1/devices/d-metrics", key: TestCluster.apiReadKey)
        _ = try await API.call("GET", "/v1/devices/d-metrics", key: nil)
        let admin = try #require(try await TestCluster.shared.adminURL("api"))
        let metrics = try await HTTPTestClient.send(admin, "GET", "/metrics").text
        #expect(metrics.contains(#"cg_api_requests_total{operation="getDevice",status="200"}"#))
        #expect(metrics.contains(#"cg_api_requests_total{operation="getDevice",status="401"}"#))
        #expect(!metrics.contains(TestCluster.apiReadKey))
    }
}
