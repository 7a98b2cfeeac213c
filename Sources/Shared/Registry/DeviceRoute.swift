import Infrastructure
/// Where a device is connected: which edge holds it, under which connection (session), since when.
///
/// `epoch` grows with every claim of the device, so of two routes for one device the higher epoch is the newer.
public struct DeviceRoute: Sendable, Equatable {
    public var edge: String
    public var session: String
    public var epoch: Int64
    /// When the route was claimed, in unix milliseconds by the Redis server's clock.
    public var sinceMs: Int64

    public init(edge: String, session: String, epoch: Int64, sinceMs: Int64) {
        self.edge = edge
        self.session = session
        self.epoch = epoch
        self.sinceMs = sinceMs
    }

    /// Reads `edge, session, epoch, since` as the registry scripts return them; nil if any is missing or malformed.
    init?(fields: ArraySlice<RedisValue>) {
        guard fields.count >= 4 else { return nil }
        let i = fields.startIndex
        guard let edge = fields[i].string, let session = fields[i + 1].string,
              let epoch = fields[i + 2].int, let since = fields[i + 3].int else { return nil }
        self.init(edge: edge, session: session, epoch: epoch, sinceMs: since)
    }
}

/// What the registry knows about a device.
public enum RouteLookup: Sendable, Equatable {
    /// The device has a route and its edge's heartbeat key exists.
    case online(DeviceRoute)
    /// No route (never connected, released, expired, or unreadable).
    case noRoute
    /// The device has a route but its edge's heartbeat key is gone: the edge crashed or stopped, and the route is
    /// stale until it expires or the device reconnects elsewhere.
    case edgeDead(DeviceRoute)
}
