@testable import PresenceService
import ServiceKit
import Testing

/// Which ops the sender's claims allow (docs/presence.md, "Permissions").
@Suite struct PresenceAccessTests {
    func claims(_ json: String?, sender: String = "d-1") -> SenderClaims {
        SenderClaims(sender: sender, json: json.map { Array($0.utf8) })
    }

    let none = SenderClaims(sender: "d-1", json: nil)
    let team = SenderClaims(sender: "d-1", json: Array(#"{"rooms":["team-7.*","lobby"],"watch":["user-42-*","d-2"]}"#.utf8))

    @Test func ownEntryUnwatchAndLeaveAreAlwaysAllowed() {
        for claims in [none, claims("{}"), team] {
            for op in [PresenceOp.set(status: "away", note: nil), .unwatch(["d-9", "x"]), .leave(room: "secret"),
                       .watch(["d-1"]), .watch([])] {
                #expect(PresenceAccess.check(op, claims: claims) == nil, "\(op)")
            }
        }
    }

    @Test func withoutClaimsNothingElseIs() {
        for claims in [none, claims("{}"), claims("not json"), claims(#"{"rooms":"lobby","watch":"d-2"}"#)] {
            #expect(PresenceAccess.check(.watch(["d-2"]), claims: claims)?.code == .forbidden)
            #expect(PresenceAccess.check(.join(room: "lobby"), claims: claims)?.code == .forbidden)
        }
    }

    @Test func joinNeedsARoomsPattern() {
        for room in ["team-7.x", "team-7.", "lobby"] {
            #expect(PresenceAccess.check(.join(room: room), claims: team) == nil, "\(room)")
        }
        for room in ["team-7", "team-7.x.y", "team-8.x", "lobby2", "demo"] {
            let refusal = PresenceAccess.check(.join(room: room), claims: team)
            #expect(refusal == PresenceOpError(.forbidden, #"may not join room \#(room): no pattern of the token's "rooms" claim matches"#), "\(room)")
        }
        #expect(PresenceAccess.check(.join(room: "any.room-at_all"), claims: claims(#"{"rooms":[">"]}"#)) == nil)
        // {sub} is the sender.
        let own = claims(#"{"rooms":["{sub}.>"]}"#, sender: "d-1")
        #expect(PresenceAccess.check(.join(room: "d-1.home"), claims: own) == nil)
        #expect(PresenceAccess.check(.join(room: "d-2.home"), claims: own)?.code == .forbidden)
    }

    @Test func watchIsAllOrNothingAndNamesWhatItRefuses() {
        #expect(PresenceAccess.check(.watch(["user-42-phone", "d-2", "d-1"]), claims: team) == nil)
        let refusal = PresenceAccess.check(.watch(["user-42-phone", "d-3", "user-42-a.b", "d-1"]), claims: team)
        #expect(refusal == PresenceOpError(.forbidden,
                #"may not watch d-3, user-42-a.b: no pattern of the token's "watch" claim matches; nothing was watched"#))
        #expect(PresenceAccess.check(.watch(["user-42-phone"]), claims: claims(#"{"rooms":[">"]}"#))?.code == .forbidden,
                "rooms open no device")
        #expect(PresenceAccess.check(.watch(["a", "b.c", "d:e@f"]), claims: claims(#"{"watch":[">"]}"#)) == nil)
    }

    @Test func aLongRefusalNamesTenDevicesAndCountsTheRest() throws {
        let devices = (0..<100).map { "x-\($0)" }
        let refusal = try #require(PresenceAccess.check(.watch(devices), claims: none))
        #expect(refusal.message.hasPrefix("may not watch x-0, x-1, x-2, x-3, x-4, x-5, x-6, x-7, x-8, x-9 and 90 more:"))
    }

    @Test func theErrorReplyCarriesCodeForbidden() {
        let body = PresenceMessage.error(code: .forbidden, message: "may not join room demo").json
        #expect(body == #"{"op":"error","code":"forbidden","message":"may not join room demo"}"#)
    }
}
