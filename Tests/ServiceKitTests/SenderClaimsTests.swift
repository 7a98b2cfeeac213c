import ChannelProtocol
import Infrastructure
@testable import ServiceKit
import Shared
import Testing

/// The sender's claims a handler reads from `message.claims` (docs/services.md, "The sender's claims").
@Suite struct SenderClaimsTests {
    let header = #"{"exp":1900000000,"iat":1800000000,"level":3,"rooms":["team-7.*","lobby"],"services":["presence"],"watch":["user-42-*","{sub}.>"]}"#

    func claims(_ json: String?, sender: String = "user-42-phone") -> SenderClaims {
        SenderClaims(sender: sender, json: json.map { Array($0.utf8) })
    }

    @Test func listsAndPatternsComeFromTheHeader() throws {
        let claims = claims(header)
        #expect(claims.strings("rooms") == ["team-7.*", "lobby"])
        #expect(claims.strings("services") == ["presence"])
        #expect(claims.patterns("watch") == [try TopicPattern("user-42-*"), try TopicPattern("{sub}.>")])
        #expect(claims.strings("exp").isEmpty && claims.strings("level").isEmpty, "not arrays of strings")
        #expect(claims.strings("missing").isEmpty && claims.patterns("missing").isEmpty)
        #expect(claims.json == Array(header.utf8), "the raw JSON, for claims of other shapes")
    }

    @Test func allowsMatchesAClaimsPatternsWithSubAsTheSender() {
        let claims = claims(header)
        #expect(claims.allows("rooms", "team-7.x") && claims.allows("rooms", "lobby"))
        #expect(!claims.allows("rooms", "team-7") && !claims.allows("rooms", "team-7.x.y") && !claims.allows("rooms", "lobby2"))
        #expect(claims.allows("watch", "user-42-tablet") && claims.allows("watch", "user-42-a:b@c"))
        #expect(!claims.allows("watch", "user-42-a.b"), "a glob stays within its segment")
        #expect(!claims.allows("watch", "user-43-phone"))
        #expect(claims.allows("watch", "user-42-phone.car"), "{sub}.> with the sender as {sub}")
        #expect(!claims.allows("watch", "user-43-phone.car"))
        #expect(!claims.allows("nothing", "lobby"), "a missing claim allows nothing")
        #expect(!claims.allows("exp", "1900000000"), "a claim that is not patterns allows nothing")
    }

    @Test func noHeaderOrABrokenOneMeansNoClaims() {
        for json in [nil, "", "not json", "[1,2]", #""rooms""#, "{}"] {
            let claims = claims(json)
            #expect(claims.strings("rooms").isEmpty && !claims.allows("rooms", "lobby") && !claims.allows("watch", "x"), "\(json ?? "nil")")
        }
        #expect(claims(nil).json == nil)
    }

    @Test func anUnreadablePatternAllowsNothingAndTheOthersStillWork() {
        let claims = claims(#"{"rooms":["bad pattern","a.>.b","lobby"],"watch":[">",7]}"#)
        #expect(claims.strings("rooms") == ["bad pattern", "a.>.b", "lobby"])
        #expect(claims.patterns("rooms").map(\.description) == ["lobby"])
        #expect(claims.allows("rooms", "lobby") && !claims.allows("rooms", "bad pattern"))
        #expect(!claims.allows("watch", "anyone"), "an array with a non-string is not a list of patterns")
    }

    @Test func aMessageParsesItsRecordsClaimsOnceAndKeepsThemInStep() throws {
        let record = KafkaRecord(topic: "cg.up.greet", partition: 0, offset: 1, key: Array("user-42-phone".utf8), value: Array("{}".utf8),
                                 headers: [KafkaHeader("device", "user-42-phone"), KafkaHeader("id", "m-1"),
                                           KafkaHeader("content-type", "application/json"), KafkaHeader("claims", header)],
                                 timestampMs: nil)
        var message = try #require(DeviceMessage(record: record, service: "greet"))
        #expect(message.claims == claims(header))
        #expect(message.upstream.claims == Array(header.utf8))
        #expect(message.claims.allows("watch", "user-42-phone.car"))
        // Another sender reads {sub} as itself.
        message.device = "d-9"
        #expect(message.claims.sender == "d-9")
        #expect(!message.claims.allows("watch", "user-42-phone.car") && message.claims.allows("watch", "d-9.car"))
        message.upstream.claims = nil
        #expect(!message.claims.allows("rooms", "lobby"))

        let old = KafkaRecord(topic: "cg.up.greet", partition: 0, offset: 2, key: nil, value: [],
                              headers: [KafkaHeader("device", "d-1"), KafkaHeader("id", "m-2")], timestampMs: nil)
        let fromAnOldEdge = try #require(DeviceMessage(record: old, service: "greet"))
        #expect(fromAnOldEdge.claims == claims(nil, sender: "d-1"))
        #expect(DeviceMessage(device: "d-1", service: "greet", id: "m", payload: .json([]), claims: Array(#"{"rooms":[">"]}"#.utf8))
            .claims.allows("rooms", "any.room"))
    }
}
