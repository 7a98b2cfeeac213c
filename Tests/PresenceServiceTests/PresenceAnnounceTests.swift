import ChannelProtocol
import Infrastructure
@testable import PresenceService
import ServiceKit
import Shared
import Testing

/// Where a change goes: one downstream message per explicit watcher, one record per room on the room's topic.
struct PresenceAnnounceTests {
    let topics = Topics(prefix: "cg")

    private func header(_ record: OutgoingRecord, _ name: String) -> String? {
        record.headers.last { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    @Test func watchersGetAMessageEachAndEachRoomOneTopicRecord() throws {
        let entry = PresenceEntry(device: "d-1", online: true, status: "away", since: 5, version: 42)
        let announcement = PresenceStore.Announcement(entry: entry, recipients: ["w-1", "d-1", "w-2"], rooms: ["demo", "a.b_c-d"])
        var outbox = Outbox(topics: topics, service: PresenceService.service)
        try PresenceOpHandler.announce(announcement, to: &outbox, ttl: .seconds(60))

        let down = outbox.records.filter { $0.topic == "cg.down" }
        #expect(down.map { String(decoding: $0.key ?? [], as: UTF8.self) } == ["w-1", "w-2"], "never the device itself")
        #expect(down.allSatisfy { header($0, "id") == "presence-d-1-42" && header($0, "ttl") == "60" })

        let published = outbox.records.filter { $0.topic == "cg.topics" }
        #expect(published.map { String(decoding: $0.key ?? [], as: UTF8.self) } == ["presence.room.demo", "presence.room.a.b_c-d"])
        for record in published {
            #expect(header(record, "service") == "presence" && header(record, "content-type") == "application/json")
            #expect(header(record, "id") == "presence-d-1-42", "the id of the version, as for watchers")
            #expect(record.value == Array(PresenceMessage.change(entry).json.utf8), "the body watchers get")
            #expect(header(record, "ttl") == nil, "topic records carry no TTL")
        }
        #expect(outbox.records.count == 4)
    }

    @Test func aDeviceInNoRoomWithNoWatchersSendsNothing() throws {
        var outbox = Outbox(topics: topics, service: PresenceService.service)
        try PresenceOpHandler.announce(PresenceStore.Announcement(entry: PresenceEntry(device: "d-1"), recipients: []),
                                       to: &outbox, ttl: .seconds(60))
        #expect(outbox.records.isEmpty)
    }

    @Test func everyRoomNameMakesAValidTopic() {
        let longest = String(repeating: "r", count: PresenceOp.maxRoomLength)
        for room in ["demo", "Demo.room_1-a", longest, "."] {
            #expect(TopicRules.isTopicName(PresenceTopic.room(room)), "\(room)")
        }
        #expect(PresenceTopic.room("demo") == "presence.room.demo")
    }
}
