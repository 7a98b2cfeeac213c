import ChannelProtocol
import Foundation
@testable import PresenceService
import Shared
import Testing

/// The bodies and ids the presence service sends (docs/presence.md).
struct PresenceMessageTests {
    private func object(_ message: PresenceMessage) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(message.json.utf8)) as? [String: Any], "\(message.json)")
    }

    @Test func anEntryCarriesEveryField() throws {
        let entry = PresenceEntry(device: "d-2", online: true, status: "away", note: "in \"a\" meeting\n\u{1}", since: 1_700_000_000_000, version: 42)
        let change = try object(.change(entry))
        #expect(change["op"] as? String == "change")
        #expect(change["device"] as? String == "d-2" && change["online"] as? Bool == true && change["status"] as? String == "away")
        #expect(change["note"] as? String == "in \"a\" meeting\n\u{1}", "escaped and read back exactly")
        #expect((change["since"] as? NSNumber)?.int64Value == 1_700_000_000_000 && (change["version"] as? NSNumber)?.int64Value == 42)
        let own = try object(.presence(PresenceEntry(device: "d-1")))
        #expect(own["op"] as? String == "presence" && own["note"] is NSNull && own["online"] as? Bool == false)
        #expect(own["status"] as? String == "available")
    }

    @Test func repliesHaveTheirDocumentedShapes() throws {
        let snapshot = try object(.snapshot(room: "demo", entries: [PresenceEntry(device: "a"), PresenceEntry(device: "b")]))
        #expect(snapshot["op"] as? String == "snapshot" && snapshot["room"] as? String == "demo")
        #expect(snapshot["topic"] as? String == "presence.room.demo", "the topic the room's changes are published on")
        #expect((snapshot["presence"] as? [[String: Any]])?.compactMap { $0["device"] as? String } == ["a", "b"])
        let watched = try object(.snapshot(room: nil, entries: []))
        #expect(watched["room"] == nil && watched["topic"] == nil)
        #expect(try object(.unwatched(["a", "b"]))["devices"] as? [String] == ["a", "b"])
        let left = try object(.left(room: "demo", device: "d-3"))
        #expect(left["op"] as? String == "left" && left["room"] as? String == "demo" && left["device"] as? String == "d-3")
        #expect(try object(.left(room: "demo", device: nil))["device"] == nil)
        let error = try object(.error(code: .tooMany, message: "at most 100"))
        #expect(error["op"] as? String == "error" && error["code"] as? String == "too_many" && error["message"] as? String == "at most 100")
    }

    @Test func idsAreDeterministicAndWithinTheLimit() {
        #expect(PresenceIDs.reply(to: "m-1") == "presence-m-1")
        #expect(PresenceIDs.change(device: "d-2", version: 17) == "presence-d-2-17")
        let long = String(repeating: "x", count: 128)
        let shortened = PresenceIDs.change(device: long, version: 1)
        #expect(shortened.utf8.count <= FieldRules.maxIDBytes && shortened.hasPrefix("presence-h-"))
        #expect(shortened == PresenceIDs.change(device: long, version: 1), "the same input gives the same id")
        #expect(shortened != PresenceIDs.change(device: long, version: 2))
        #expect(PresenceIDs.reply(to: long) != PresenceIDs.reply(to: long + "y"))
        #expect((try? FieldRules.checkMessageID(PresenceIDs.left(room: long, device: long, messageID: long))) != nil)
    }
}
