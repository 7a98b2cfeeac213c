import ServiceKit
import ChannelProtocol

/// A body the presence service sends to a device (docs/presence.md), and the deterministic ids it sends them under.
///
/// Guarantees: every body is one JSON object with an `op`; ids are valid downstream ids (1–128 bytes, no control
/// characters) and derived only from what they answer or announce, so a repeated send carries the same id and the
/// device drops it.
public enum PresenceMessage: Sendable, Equatable {
    /// Reply to `set`: the sender's own entry.
    case presence(PresenceEntry)
    /// Reply to `watch` (room nil) or `join` (the room, and the topic its changes are published on): the current
    /// entries.
    case snapshot(room: String?, entries: [PresenceEntry])
    /// Reply to `unwatch`.
    case unwatched([String])
    /// Reply to `leave` (device nil), or on the room's topic: `device` left `room`.
    case left(room: String, device: String?)
    /// To a watcher, or on a room's topic: the entry of a device changed (or joined the room).
    case change(PresenceEntry)
    /// Reply to an op that was refused.
    case error(code: PresenceOpError.Code, message: String)

    /// The body as JSON text.
    public var json: String {
        switch self {
        case .presence(let entry):
            return "{\"op\":\"presence\",\(entry.jsonMembers)}"
        case .snapshot(let room, let entries):
            let roomMember = room.map {
                "\"room\":\(JSONBody.string($0).text),\"topic\":\(JSONBody.string(PresenceTopic.room($0)).text),"
            } ?? ""
            return "{\"op\":\"snapshot\",\(roomMember)\"presence\":[\(entries.map(\.json).joined(separator: ","))]}"
        case .unwatched(let devices):
            return "{\"op\":\"unwatched\",\"devices\":\(JSONBody.array(devices.map(JSONBody.string)).text)}"
        case .left(let room, let device):
            let deviceMember = device.map { ",\"device\":\(JSONBody.string($0).text)" } ?? ""
            return "{\"op\":\"left\",\"room\":\(JSONBody.string(room).text)\(deviceMember)}"
        case .change(let entry):
            return "{\"op\":\"change\",\(entry.jsonMembers)}"
        case .error(let code, let message):
            return "{\"op\":\"error\",\"code\":\(JSONBody.string(code.rawValue).text),\"message\":\(JSONBody.string(message).text)}"
        }
    }

    /// The body as a JSON payload.
    public var payload: Payload { .json(Array(json.utf8)) }
}

/// The ids of what the presence service sends.
public enum PresenceIDs {
    /// The reply to the device message `messageID`: `presence-<messageID>`.
    public static func reply(to messageID: String) -> String { bounded("presence-\(messageID)") }

    /// A change of `device`'s entry to `version`: `presence-<device>-<version>`, the same for every watcher and room.
    public static func change(device: String, version: Int64) -> String { bounded("presence-\(device)-\(version)") }

    /// The joiner's entry published on `room`'s topic, caused by its device message `messageID`: an id of its own
    /// (the record's `id` header), since a device that leaves and joins again without changing has the same version.
    public static func joined(room: String, device: String, messageID: String) -> String {
        bounded("presence-joined-\(room)-\(device)-\(messageID)")
    }

    /// The notice that `device` left `room` (the record's `id` header on the room's topic), caused by its device
    /// message `messageID`.
    public static func left(room: String, device: String, messageID: String) -> String {
        bounded("presence-left-\(room)-\(device)-\(messageID)")
    }

    static func bounded(_ id: String) -> String { MessageID.bounded(id, service: "presence") }
}
