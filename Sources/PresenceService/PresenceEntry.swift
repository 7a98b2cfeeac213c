import Infrastructure
import ServiceKit
import Shared

/// What the presence service knows about one device, as devices see it in replies and notifications
/// (docs/presence.md, "Entries").
///
/// Guarantees: `version` grows with every change of `online`, `status` or `note` of the device (it starts from the
/// Redis clock in ms when the device's entry is created, so it never repeats, even after the entry expired); a device
/// the service never saw reads as offline, `available`, with `since` and `version` 0.
public struct PresenceEntry: Sendable, Equatable {
    public var device: String
    public var online: Bool
    public var status: String
    /// Nil when the device set none (or cleared it).
    public var note: String?
    /// Unix ms (Redis clock) of the last time `online` flipped; 0 if it never did.
    public var since: Int64
    public var version: Int64

    public static let defaultStatus = "available"

    /// An entry; the defaults are those of a device the service never saw.
    public init(device: String, online: Bool = false, status: String = PresenceEntry.defaultStatus, note: String? = nil,
                since: Int64 = 0, version: Int64 = 0) {
        self.device = device
        self.online = online
        self.status = status
        self.note = note
        self.since = since
        self.version = version
    }

    /// The entry from the fields the presence scripts return, in the order `online`, `status`, `note`, `since`,
    /// `version` (missing or unreadable fields take the defaults of an unknown device).
    init(device: String, fields: [RedisValue]) {
        func field(_ i: Int) -> String? { i < fields.count ? fields[i].string : nil }
        self.init(device: device, online: field(0) == "1", status: field(1).flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultStatus,
                  note: field(2).flatMap { $0.isEmpty ? nil : $0 }, since: field(3).flatMap { Int64($0) } ?? 0,
                  version: field(4).flatMap { Int64($0) } ?? 0)
    }

    /// The entry's members for a JSON object, without braces:
    /// `"device":"d-2","online":true,"status":"available","note":null,"since":1700000000000,"version":3`.
    var jsonMembers: String {
        "\"device\":\(JSONBody.string(device).text),\"online\":\(online),\"status\":\(JSONBody.string(status).text),"
            + "\"note\":\(note.map { JSONBody.string($0).text } ?? "null"),\"since\":\(since),\"version\":\(version)"
    }

    /// The entry as one JSON object.
    var json: String { "{\(jsonMembers)}" }
}
