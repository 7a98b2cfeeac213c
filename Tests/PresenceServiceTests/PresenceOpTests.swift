import ChannelProtocol
@testable import PresenceService
import Testing

/// Parsing and validating what devices send to service `presence`.
struct PresenceOpTests {
    private func parse(_ json: String, limits: PresenceLimits = PresenceLimits()) throws(PresenceOpError) -> PresenceOp {
        try PresenceOp.parse(.json(Array(json.utf8)), limits: limits)
    }

    private func refusal(_ json: String, limits: PresenceLimits = PresenceLimits()) -> PresenceOpError? {
        do { _ = try parse(json, limits: limits); return nil } catch { return error }
    }

    @Test func setTakesAStatusAndAnOptionalNote() throws {
        #expect(try parse(#"{"op":"set","status":"away","note":"in a meeting"}"#) == .set(status: "away", note: "in a meeting"))
        #expect(try parse(#"{"op":"set","status":"busy"}"#) == .set(status: "busy", note: nil))
        #expect(try parse(#"{"op":"set","status":"on_call-2","note":null}"#) == .set(status: "on_call-2", note: nil))
        #expect(try parse(#"{"op":"set","status":"away","note":""}"#) == .set(status: "away", note: nil), "empty clears")
        let longest = String(repeating: "é", count: 140)
        #expect(try parse(#"{"op":"set","status":"away","note":"\#(longest)"}"#) == .set(status: "away", note: longest),
                "140 characters, whatever their bytes")
    }

    @Test func setRefusesBadStatusesAndNotes() throws {
        for body in [#"{"op":"set"}"#, #"{"op":"set","status":""}"#, #"{"op":"set","status":"Away"}"#,
                     #"{"op":"set","status":"a b"}"#, #"{"op":"set","status":7}"#,
                     #"{"op":"set","status":"\#(String(repeating: "a", count: 33))"}"#,
                     #"{"op":"set","status":"away","note":5}"#,
                     #"{"op":"set","status":"away","note":"\#(String(repeating: "x", count: 141))"}"#] {
            #expect(refusal(body)?.code == .badRequest, "\(body)")
        }
        #expect(try parse(#"{"op":"set","status":"\#(String(repeating: "a", count: 32))"}"#) == .set(status: String(repeating: "a", count: 32), note: nil))
    }

    @Test func watchAndUnwatchTakeDistinctDeviceIds() throws {
        #expect(try parse(#"{"op":"watch","devices":["d-2","d:3@x","d-2"]}"#) == .watch(["d-2", "d:3@x"]))
        #expect(try parse(#"{"op":"unwatch","devices":["d-2"]}"#) == .unwatch(["d-2"]))
        #expect(try parse(#"{"op":"watch","devices":[]}"#) == .watch([]))
        #expect(refusal(#"{"op":"watch","devices":["ok","not ok"]}"#) == PresenceOpError(.badRequest,
                "\"devices\"[1] is not a device id (1 to 128 characters of A-Z a-z 0-9 . - _ : @)"))
        #expect(refusal(#"{"op":"watch","devices":[1]}"#)?.code == .badRequest)
        #expect(refusal(#"{"op":"watch","devices":"d-2"}"#)?.code == .badRequest)
        #expect(refusal(#"{"op":"unwatch"}"#)?.code == .badRequest)
    }

    @Test func moreDevicesThanTheLimitAreTooMany() throws {
        let hundred = (0..<100).map { "\"d-\($0)\"" }.joined(separator: ",")
        if case .watch(let devices) = try parse(#"{"op":"watch","devices":[\#(hundred)]}"#) {
            #expect(devices.count == 100)
        } else {
            Issue.record("100 devices are allowed")
        }
        #expect(refusal(#"{"op":"watch","devices":[\#(hundred),"d-100"]}"#)?.code == .tooMany)
        var small = PresenceLimits()
        small.maxDevicesPerOp = 2
        #expect(refusal(#"{"op":"unwatch","devices":["a","b","c"]}"#, limits: small)?.code == .tooMany)
    }

    @Test func roomsAreShortNamesOfSafeCharacters() throws {
        #expect(try parse(#"{"op":"join","room":"Demo.room_1-a"}"#) == .join(room: "Demo.room_1-a"))
        #expect(try parse(#"{"op":"leave","room":"demo"}"#) == .leave(room: "demo"))
        for room in ["\"\"", "\"a/b\"", "\"a:b\"", "\"\(String(repeating: "r", count: 65))\"", "3", "null"] {
            #expect(refusal(#"{"op":"join","room":\#(room)}"#)?.code == .badRequest, "\(room)")
        }
        #expect(try parse(#"{"op":"join","room":"\#(String(repeating: "r", count: 64))"}"#) == .join(room: String(repeating: "r", count: 64)))
    }

    @Test func anythingElseIsABadRequest() {
        for body in ["", "[]", "\"set\"", "{}", #"{"op":5}"#, #"{"op":"dance"}"#, "{not json"] {
            #expect(refusal(body)?.code == .badRequest, "\(body)")
        }
        do {
            _ = try PresenceOp.parse(.binary(Array(#"{"op":"set","status":"away"}"#.utf8)))
            Issue.record("a binary payload is refused")
        } catch {
            #expect(error.code == .badRequest)
        }
    }
}
