import ServiceLifecycle

/// One step of a component's ordered shutdown, for a part that runs by itself once started (a NIO server, a client's
/// connections, a flush): as a `Service` it waits for the group's graceful shutdown, then runs `stop` once.
///
/// A service group shuts its services down one at a time, last registered first, so a component lists its parts in
/// the order they start, and they stop in the reverse order.
public struct ShutdownStep: Service {
    public let name: String
    private let stop: @Sendable () async -> Void

    public init(_ name: String, stop: @escaping @Sendable () async -> Void) {
        self.name = name
        self.stop = stop
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}
