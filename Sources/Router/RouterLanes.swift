import ServiceLifecycle

/// A router's lanes as one `Service`: on the group's graceful shutdown every lane stops polling at once, and the
/// service returns when all have finished their batches in flight, committed them and left the consumer group (each
/// within its drain limit). One service for all, so that the lanes drain side by side rather than one after another.
struct RouterLanes: Service {
    let lanes: [RouterLane]

    init(_ lanes: [RouterLane]) { self.lanes = lanes }

    func run() async throws {
        try? await gracefulShutdown()
        lanes.forEach { $0.requestStop() }
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes { group.addTask { await lane.stopped() } }
        }
    }
}
