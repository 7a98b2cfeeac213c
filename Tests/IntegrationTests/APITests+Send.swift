import ChannelClient
import ChannelProtocol
import Foundation
import Testing

/// `POST /v1/messages` and `POST /v1/topics/{topic}/messages` of `gateway api` against the shared cluster: devices
/// receive what is sent, with the TTL and content type asked for, and idempotency keys repeat ids and answers.
@Suite(.timeLimit(.minutes(3)))
struct APISendTests {
    @Test func aSendReachesOneConnectedDevice() async throws {
        let name = TestCluster.uniqueDevice("api-one")
        let device = try await TestCluster.connect(name, edge: 0)
        let reply = try await API.call("POST", "/v1/messages", key: TestCluster.apiSendKey,
                                       json: API.sendBody(devices: [name], body: #"{"text":"hello","n":1}"#, extra: #","ttl":60"#))
        let sent = try API.sent(reply)
        #expect(try API.object(reply)["ttl"] as? Int == 60)
        #expect(sent.count == 1 && sent[0].device == name && sent[0].id.hasPrefix("api-"))
        let message = try await device.nextMessage(within: 30)
        #expect(message.service == "echo" && message.id == sent[0].id)
        #expect(message.payload == .json(Array(#"{"n":1,"text":"hello"}"#.utf8)))
        await device.close()
    }

    @Test func aSendToThreeDevicesOnBothEdgesReachesEachInRequestOrder() async throws {
        let names = (0..<3).map { TestCluster.uniqueDevice("api-three-\($0)") }
        var devices: [DeviceClient] = []
        for (index, name) in names.enumerated() { devices.append(try await TestCluster.connect(name, edge: index % 2)) }
        let sent = try API.sent(try await API.call("POST", "/v1/messages", key: TestCluster.apiSendKey,
                                                   json: API.sendBody(devices: names, body: "[1,2,3]")))
        #expect(sent.map(\.device) == names)
        #expect(Set(sent.map(\.id)).count == 3)
        for (device, expected) in zip(devices, sent) {
            let message = try await device.nextMessage(within: 30)
            #expect(message.id == expected.id && message.payload == .json(Array("[1,2,3]".utf8)))
            await device.close()
        }
    }

    @Test func contentTypeDecidesHowTheDeviceSeesThePayload() async throws {
        let name = TestCluster.uniqueDevice("api-ctype")
        let device = try await TestCluster.connect(name, edge: 1)
        let bytes: [UInt8] = [0, 1, 2, 0xFF]
        _ = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(
            devices: [name], body: nil, extra: #","data":"\#(Data(bytes).base64EncodedString())""#)))
        #expect(try await device.nextMessage(within: 30).payload == .binary(bytes))
        // A JSON body sent as another content type reaches the device as bytes, not as JSON.
        _ = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(
            devices: [name], body: #""text""#, extra: #","content_type":"text/plain""#)))
        #expect(try await device.nextMessage(within: 30).payload == .binary(Array(#""text""#.utf8)))
        await device.close()
    }

    @Test func ttlDecidesWhetherAnOfflineDeviceGetsTheMessage() async throws {
        let name = TestCluster.uniqueDevice("api-ttl")
        let now = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], body: #""only now""#, extra: #","ttl":0"#)))
        let later = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], body: #""later""#, extra: #","ttl":120"#)))
        try await Task.sleep(for: .seconds(2))  // past the TTL-0 message's 1 s
        let device = try await TestCluster.connect(name, edge: 0)
        let message = try await device.nextMessage(within: 30)
        #expect(message.id == later[0].id && message.id != now[0].id)
        #expect(message.payload == .json(Array(#""later""#.utf8)))
        await #expect(throws: (any Error).self) { _ = try await device.nextMessage(within: 2) }
        await device.close()
    }

    @Test func anIdempotencyKeyRepeatsTheAnswerAndRefusesAnotherBody() async throws {
        let name = TestCluster.uniqueDevice("api-idem")
        let key = "order-\(UInt32.random(in: 0...UInt32.max))"
        let body = API.sendBody(devices: [name], body: #""once""#)
        let first = try await API.call("POST", "/v1/messages", json: body, headers: [("Idempotency-Key", key)])
        let second = try await API.call("POST", "/v1/messages", json: body, headers: [("Idempotency-Key", key)])
        #expect(try API.sent(first).map(\.id) == (API.sent(second).map(\.id)))
        #expect(first.body == second.body)
        let other = try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], body: #""twice""#),
                                       headers: [("Idempotency-Key", key)])
        #expect(try other.status == 409 && (API.error(other)) == "idempotency_conflict")
        // Another key (of the same caller) gives other ids; the same idempotency key under another API key too.
        let fresh = try await API.call("POST", "/v1/messages", json: body, headers: [("Idempotency-Key", key + "-b")])
        #expect(try API.sent(fresh)[0].id != (API.sent(first)[0].id))
        let otherCaller = try await API.call("POST", "/v1/messages", key: TestCluster.apiSendKey, json: body,
                                             headers: [("Idempotency-Key", key)])
        #expect(try API.sent(otherCaller)[0].id != (API.sent(first)[0].id))
        // The device gets the message once: the repeat wrote nothing.
        let device = try await TestCluster.connect(name, edge: 0)
        #expect(try await device.nextMessage(within: 30).id == (API.sent(first)[0].id))
        let next = try await device.nextMessage(within: 30)
        #expect(try next.id == (API.sent(fresh)[0].id) || next.id == (API.sent(otherCaller)[0].id))
        await device.close()
    }

    @Test func concurrentRepeatsOfOneKeyGetOneSendAndInProgressOrTheSameAnswer() async throws {
        let name = TestCluster.uniqueDevice("api-idem-race")
        let key = "race-\(UInt32.random(in: 0...UInt32.max))"
        let body = API.sendBody(devices: [name])
        let replies = try await withThrowingTaskGroup(of: HTTPReply.self) { group in
            for _ in 0..<6 { group.addTask { try await API.call("POST", "/v1/messages", json: body, headers: [("Idempotency-Key", key)]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let created = replies.filter { $0.status == 201 }
        #expect(!created.isEmpty)
        #expect(Set(created.map(\.body)).count == 1)
        for reply in replies where reply.status != 201 {
            #expect(try reply.status == 409 && (API.error(reply)) == "idempotency_in_progress")
        }
    }

    @Test func badIdempotencyKeysAndUnknownServicesAre400() async throws {
        let name = TestCluster.uniqueDevice("api-bad")
        let long = String(repeating: "k", count: 129)
        let reply = try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name]), headers: [("Idempotency-Key", long)])
        #expect(try reply.status == 400 && (API.error(reply)) == "bad_request")
        let unknown = try await API.call("POST", "/v1/messages", json: API.sendBody(service: "nosuch", devices: [name]))
        #expect(try unknown.status == 400 && (API.object(unknown)["message"] as? String)?.contains("nosuch") == true)
    }

    @Test func aTopicMessageReachesASubscriber() async throws {
        let name = TestCluster.uniqueDevice("api-topic")
        let topic = "api.\(UInt32.random(in: 0...UInt32.max))"
        let device = try await TopicTests.connect(name, edge: 0)
        try await device.subscribe(topic: topic)
        let reply = try await API.call("POST", "/v1/topics/\(topic)/messages", key: TestCluster.apiSendKey, json: #"{"body":{"score":"2:1"}}"#)
        #expect(reply.status == 201, "\(reply.text)")
        let answer = try API.object(reply)
        #expect(answer["topic"] as? String == topic)
        let position = try #require(answer["position"] as? String)
        let got = try await device.topicEvents(1, within: 30)
        guard case .event(let event) = got[0] else { Issue.record("not an event: \(got[0])"); return }
        #expect(event.topic == topic && event.from == "api" && event.position.description == position)
        #expect(event.payload == .json(Array(#"{"score":"2:1"}"#.utf8)))
        await device.close()
        let bad = try await API.call("POST", "/v1/topics/\(topic)/messages", json: #"{"body":1,"data":"AA=="}"#)
        #expect(bad.status == 400)
    }
}
