import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import ServiceKit
import ServiceLifecycle
import Shared
import Testing

/// A service written on the SDK, run in this process against the shared cluster's service `other`: it replies to
/// the sender, sends to another device, and pushes outside any request; a handler that fails sees its batch again.
@Suite(.timeLimit(.minutes(3)))
struct ServiceKitIntegrationTests {
    final class Attempts: @unchecked Sendable {
        let lock = NSLock()
        var count: [String: Int] = [:]
        func next(_ id: String) -> Int { lock.withLock { count[id, default: 0] += 1; return count[id]! } }
    }

    @Test func aServiceOnTheSDKRepliesSendsAndPushes() async throws {
        let cluster = try await TestCluster.shared
        let service = ChannelService(name: "other", topics: Topics(prefix: "cg"),
                                     kafka: KafkaConfig(bootstrapServers: cluster.broker.bootstrap), logger: .init(label: "other"))
        let watcher = TestCluster.uniqueDevice("watcher")
        let attempts = Attempts()
        try await offload {
            try service.start { message, outbox in
                // The first time a message with "fail" is seen, the handler throws: the batch must come back.
                if message.payload.bytes == Array(#""fail""#.utf8) && attempts.next(message.id) == 1 {
                    throw CancellationError()
                }
                outbox.reply(to: message, id: "other-\(message.id)", payload: .json(Array(#"{"got":"\#(message.device)"}"#.utf8)))
                outbox.send(to: watcher, id: "seen-\(message.id)", payload: .binary(Array(message.id.utf8)))
            }
        }
        // Runs as a backend process runs it: in a service group, stopped by its graceful shutdown.
        let group = ServiceGroup(services: [service], logger: .init(label: "other"))
        async let running: Void = group.run()
        do {
            try await exchange(service, watcher: watcher)
        } catch {
            await group.triggerGracefulShutdown()
            try await running
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running
    }

    private func exchange(_ service: ChannelService, watcher: String) async throws {
        try await within(60, "the service to join its group") {
            while !service.isAssigned { try await Task.sleep(for: .milliseconds(100)) }
        }
        let sender = TestCluster.uniqueDevice("sender")
        let device = try await TestCluster.connect(sender, edge: 0)
        let eye = try await TestCluster.connect(watcher, edge: 1)

        let id = try await device.send(service: "other", json: #"{"hello":1}"#)
        let reply = try await device.nextMessage(within: 30)
        #expect(reply.service == "other" && reply.id == "other-\(id)")
        #expect(reply.payload == .json(Array(#"{"got":"\#(sender)"}"#.utf8)))
        let seen = try await eye.nextMessage(within: 30)
        #expect(seen.id == "seen-\(id)" && seen.payload == .binary(Array(id.utf8)))

        let failing = try await device.send(service: "other", json: #""fail""#)
        #expect(try await device.nextMessage(within: 30).id == "other-\(failing)", "a failed batch is handled again")

        try await service.send(to: watcher, id: "push-1", payload: .json(Array(#"{"push":true}"#.utf8)), ttl: .seconds(60))
        var pushed = try await eye.nextMessage(within: 30)
        if pushed.id == "seen-\(failing)" { pushed = try await eye.nextMessage(within: 30) }
        #expect(pushed.id == "push-1" && pushed.service == "other")
        await device.close()
        await eye.close()
    }
}
