/// The presence service's limits (docs/presence.md, "Limits").
public struct PresenceLimits: Sendable, Equatable {
    /// Devices one `watch` or `unwatch` may name.
    public var maxDevicesPerOp = 100
    /// Devices one device may watch explicitly at once.
    public var maxWatched = 1000
    /// Members of one room.
    public var maxRoomMembers = 1000
    /// Rooms one device may be in at once.
    public var maxRoomsPerDevice = 32
    /// How long a watch or a room membership lasts without being renewed by another `watch` or `join`.
    public var membershipTTL: Duration = .seconds(7 * 24 * 3600)
    /// How long a device's entry lasts without a change or connection.
    public var entryTTL: Duration = .seconds(30 * 24 * 3600)
    /// How long what the service sends may wait for an offline device.
    public var messageTTL: Duration = .seconds(60)

    /// The documented limits (docs/presence.md, "Limits").
    public init() {}
}
