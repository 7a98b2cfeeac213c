import Foundation
import Infrastructure
import PushService
import ServiceKit
import Testing

/// The JSON bodies devices receive from service `push`, and the ids they carry.
struct PushMessagesTests {
    func object(_ json: JSONBody) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
    }

    let request = PushRequest(subscription: "S", ttlSeconds: 60, urgency: .high, topic: "t1")

    @Test func aUTF8PayloadArrivesAsText() throws {
        let text = "héllo \"quoted\" \\ \n\t\u{01} \u{2028} 🎉"
        let body = try object(PushMessages.notification(subscription: "S", label: "App", request: request, payload: Array(text.utf8)))
        #expect(body["op"] as? String == "notification")
        #expect(body["subscription"] as? String == "S")
        #expect(body["label"] as? String == "App")
        #expect(body["urgency"] as? String == "high")
        #expect(body["ttl"] as? Int == 60)
        #expect(body["topic"] as? String == "t1")
        #expect(body["text"] as? String == text)
        #expect(body["data"] == nil)
    }

    @Test func otherBytesArriveAsBase64Data() throws {
        let bytes: [UInt8] = [0xFF, 0xFE, 0x00, 0x41, 0xC3]
        var plain = request
        plain.topic = nil
        let body = try object(PushMessages.notification(subscription: "S", label: nil, request: plain, payload: bytes))
        #expect(body["text"] == nil)
        #expect(body["data"] as? String == Data(bytes).base64EncodedString())
        #expect(body["topic"] == nil && body["label"] == nil, "absent fields are left out")
        let empty = try object(PushMessages.notification(subscription: "S", label: nil, request: plain, payload: []))
        #expect(empty["text"] as? String == "", "an empty payload is empty text")
    }

    @Test func base64MatchesFoundationForEveryLength() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let payload = bytes + [0xFF]  // never UTF-8, so the notification carries data
            let json = PushMessages.notification(subscription: "S", label: nil, request: request, payload: payload).text
            #expect(json.contains(#""data":"\#(Data(payload).base64EncodedString())""#), "length \(n + 1)")
        }
    }

    @Test func subscriptionRepliesAlwaysCarryExpiresAndLabel() throws {
        let info = SubscriptionInfo(id: "abc", expiresMs: nil, label: nil)
        #expect(PushMessages.subscribed(info, base: "https://push.example/").text
                == #"{"op":"subscribed","subscription":"abc","endpoint":"https://push.example/v1/push/abc","expires":null,"label":null}"#)
        let list = PushMessages.subscriptions([SubscriptionInfo(id: "x", expiresMs: 1_700_000_000_000, label: "L")], base: "http://h:1")
        #expect(list.text == #"{"op":"subscriptions","subscriptions":[{"subscription":"x","endpoint":"http://h:1/v1/push/x","expires":1700000000000,"label":"L"}]}"#)
        #expect(PushMessages.subscriptions([], base: "http://h").text == #"{"op":"subscriptions","subscriptions":[]}"#)
        #expect(PushMessages.unsubscribed("x").text == #"{"op":"unsubscribed","subscription":"x"}"#)
        #expect(try object(PushMessages.error(code: "not_found", message: "m \"q\""))["message"] as? String == "m \"q\"")
    }

    @Test func replyIDsFollowTheMessageAndStayWithinTheIDRule() {
        #expect(PushMessages.replyID(for: "m-1") == "push-m-1")
        let long = String(repeating: "x", count: 128)
        let hashed = PushMessages.replyID(for: long)
        #expect(hashed.hasPrefix("push-h-") && hashed.utf8.count == 39)
        #expect(hashed == PushMessages.replyID(for: long), "deterministic, so a repeated batch repeats it")
        #expect(hashed != PushMessages.replyID(for: long + "y"))
        #expect(PushMessages.replyID(for: String(repeating: "x", count: 123)).utf8.count == 128)
        #expect(PushMessages.notificationID(for: "abc") == "push-n-abc")
    }

    @Test func subscriptionIDsAre128RandomBits() throws {
        let ids = (0..<200).map { _ in SubscriptionID.newRandom() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(SubscriptionID.isWellFormed(id), "\(id)")
            #expect(!id.contains("=") && !id.contains("+") && !id.contains("/"))
        }
        // Every character varies, so no byte of the 128 bits is fixed; the last one carries 2 bits (4 values).
        for position in 0..<SubscriptionID.length {
            let characters = Set(ids.map { Array($0)[position] })
            #expect(characters.count >= (position == SubscriptionID.length - 1 ? 3 : 20), "position \(position)")
        }
        // A subscription id ends in its device's slot tag.
        let device = "cg:push:device:{phone-7}"
        let slot = RedisKeySlot.slot(of: device)
        let subscription = SubscriptionID.newSubscription(slot: slot)
        #expect(subscription.utf8.count == 25 && SubscriptionID.isWellFormed(subscription))
        let (random, tag) = try #require(SubscriptionID.parts(subscription))
        #expect(random.utf8.count == 22 && RedisKeySlot.slot(of: "cg:push:sub:{\(tag)}\(random)") == slot)
        #expect(SubscriptionID.parts(ids[0]) == nil)
        #expect(!SubscriptionID.isWellFormed("too-short"))
        #expect(!SubscriptionID.isWellFormed("AAAAAAAAAAAAAAAAAAAAA="))
    }
}
