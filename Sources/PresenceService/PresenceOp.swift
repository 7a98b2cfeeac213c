import ChannelProtocol
import Foundation

/// One operation a device asks of the presence service: the JSON body of its `msg` to service `presence`
/// (docs/presence.md, "Ops").
///
/// Guarantees: ``parse(_:limits:)`` accepts only a well-formed op within the limits, so whatever it returns can be
/// carried out as is: statuses are 1–32 of `[a-z0-9_-]`, notes at most 140 characters (nil clears), device lists
/// valid device ids without repeats, at most `maxDevicesPerOp`; rooms 1–64 of `[A-Za-z0-9._-]`. Anything else is a
/// ``PresenceOpError`` with code `bad_request` or `too_many` and a message saying what is wrong.
public enum PresenceOp: Sendable, Equatable {
    case set(status: String, note: String?)
    case watch([String])
    case unwatch([String])
    case join(room: String)
    case leave(room: String)

    public static let maxStatusLength = 32
    public static let maxNoteLength = 140
    public static let maxRoomLength = 64

    /// Parses a device's message body.
    public static func parse(_ payload: Payload, limits: PresenceLimits = PresenceLimits()) throws(PresenceOpError) -> PresenceOp {
        guard case .json(let bytes) = payload,
              let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
              let fields = object as? [String: Any] else {
            throw PresenceOpError(.badRequest, "send a JSON object with an \"op\"")
        }
        guard let op = fields["op"] as? String else { throw PresenceOpError(.badRequest, "\"op\" is missing or not a string") }
        switch op {
        case "set":
            guard let status = fields["status"] as? String, isStatus(status) else {
                throw PresenceOpError(.badRequest, "\"status\" must be 1 to \(maxStatusLength) characters of a-z 0-9 _ -")
            }
            return .set(status: status, note: try note(fields["note"]))
        case "watch":
            return .watch(try devices(fields["devices"], limits: limits))
        case "unwatch":
            return .unwatch(try devices(fields["devices"], limits: limits))
        case "join":
            return .join(room: try room(fields["room"]))
        case "leave":
            return .leave(room: try room(fields["room"]))
        default:
            throw PresenceOpError(.badRequest, "unknown op \"\(op.prefix(32))\": set, watch, unwatch, join or leave")
        }
    }

    static func isStatus(_ status: String) -> Bool {
        (1...maxStatusLength).contains(status.utf8.count) && status.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }

    static func isRoom(_ room: String) -> Bool {
        (1...maxRoomLength).contains(room.utf8.count) && room.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
    }

    /// Absent, null or empty clears the note.
    private static func note(_ value: Any?) throws(PresenceOpError) -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let text as String:
            guard text.count <= maxNoteLength else {
                throw PresenceOpError(.badRequest, "\"note\" is longer than \(maxNoteLength) characters")
            }
            return text.isEmpty ? nil : text
        default:
            throw PresenceOpError(.badRequest, "\"note\" must be a string or null")
        }
    }

    private static func devices(_ value: Any?, limits: PresenceLimits) throws(PresenceOpError) -> [String] {
        guard let list = value as? [Any] else { throw PresenceOpError(.badRequest, "\"devices\" must be an array of device ids") }
        guard list.count <= limits.maxDevicesPerOp else {
            throw PresenceOpError(.tooMany, "at most \(limits.maxDevicesPerOp) devices per op, got \(list.count)")
        }
        var seen = Set<String>()
        var devices: [String] = []
        for (index, item) in list.enumerated() {
            guard let device = item as? String, FieldRules.isDeviceID(device) else {
                throw PresenceOpError(.badRequest, "\"devices\"[\(index)] is not a device id (1 to \(FieldRules.maxIDBytes) characters of A-Z a-z 0-9 . - _ : @)")
            }
            if seen.insert(device).inserted { devices.append(device) }
        }
        return devices
    }

    private static func room(_ value: Any?) throws(PresenceOpError) -> String {
        guard let room = value as? String, isRoom(room) else {
            throw PresenceOpError(.badRequest, "\"room\" must be 1 to \(maxRoomLength) characters of A-Z a-z 0-9 . _ -")
        }
        return room
    }
}

/// Why an op was refused; sent to the device as `{"op":"error","code":…,"message":…}`.
public struct PresenceOpError: Error, Sendable, Equatable {
    /// The `code` of the error reply.
    public enum Code: String, Sendable {
        /// The op is malformed or names something invalid.
        case badRequest = "bad_request"
        /// The op would go over a limit (devices per op, devices watched, room members, rooms per device).
        case tooMany = "too_many"
        /// The sender's claims do not open what the op names: a device outside its `watch` patterns, or a room
        /// outside its `rooms` patterns (``PresenceAccess``).
        case forbidden
    }

    public var code: Code
    public var message: String

    /// - Parameter message: says what is wrong, for the device's developer.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
