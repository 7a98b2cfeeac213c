import ChannelClient
import Foundation
import Testing

/// Mailbox list and delete and receipts through `gateway api` against the shared cluster.
@Suite(.timeLimit(.minutes(3)))
struct APIMailboxTests {
    /// Polls `path` until `done` holds for its JSON (the router stores and updates a moment after the 201).
    func eventually(_ path: String, within seconds: Int = 20, _ done: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var last: [String: Any] = [:]
        repeat {
            let reply = try await API.call("GET", path, key: TestCluster.apiReadKey)
            if reply.status == 200 { last = try API.object(reply) }
            if done(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return last
    }

    @Test func listPagesThroughTheMailboxAndDeleteRemovesOneOrAll() async throws {
        let name = TestCluster.uniqueDevice("api-mbox")
        var ids: [String] = []
        for n in 1...3 {
            ids.append(try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], body: "\(n)")))[0].id)
        }
        let status = try await eventually("/v1/devices/\(name)") { ($0["mailbox"] as? [String: Any])?["count"] as? Int == 3 }
        let oldest = try #require((status["mailbox"] as? [String: Any])?["oldest"] as? [String: Any])
        #expect(oldest["id"] as? String == ids[0] && oldest["service"] as? String == "echo")

        let first = try API.object(try await API.call("GET", "/v1/devices/\(name)/mailbox?limit=2", key: TestCluster.apiReadKey))
        let entries = try #require(first["entries"] as? [[String: Any]])
        #expect(entries.compactMap { $0["id"] as? String } == Array(ids.prefix(2)))
        #expect(entries.allSatisfy { $0["content_type"] as? String == "application/json" && $0["bytes"] as? Int == 1 })
        let next = try #require(first["next_after"] as? Int)
        let second = try API.object(try await API.call("GET", "/v1/devices/\(name)/mailbox?after=\(next)", key: TestCluster.apiReadKey))
        #expect((second["entries"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[2]])
        #expect(second["next_after"] == nil)
        #expect(try await API.call("GET", "/v1/devices/\(name)/mailbox?limit=1001", key: TestCluster.apiReadKey).status == 400)

        let receipt = try API.object(try await API.call("GET", "/v1/devices/\(name)/messages/\(ids[1])", key: TestCluster.apiReadKey))
        #expect(receipt["state"] as? String == "waiting" && receipt["service"] as? String == "echo")

        let one = try await API.call("DELETE", "/v1/devices/\(name)/mailbox/\(ids[1])", key: TestCluster.apiAdminKey)
        #expect(try one.status == 200 && (API.object(one)["deleted"] as? Int) == 1)
        let gone = try await API.call("DELETE", "/v1/devices/\(name)/mailbox/\(ids[1])", key: TestCluster.apiAdminKey)
        #expect(gone.status == 404)
        #expect(try API.error(gone) == "not_found")
        let deleted = try API.object(try await API.call("GET", "/v1/devices/\(name)/messages/\(ids[1])", key: TestCluster.apiReadKey))
        #expect(deleted["state"] as? String == "deleted")

        let all = try await API.call("DELETE", "/v1/devices/\(name)/mailbox", key: TestCluster.apiAdminKey)
        #expect(try all.status == 200 && (API.object(all)["deleted"] as? Int) == 2)
        let empty = try API.object(try await API.call("GET", "/v1/devices/\(name)/mailbox", key: TestCluster.apiReadKey))
        #expect((empty["entries"] as? [Any])?.isEmpty == true)
        // Nothing is delivered once deleted.
        let device = try await TestCluster.connect(name, edge: 0)
        await #expect(throws: (any Error).self) { _ = try await device.nextMessage(within: 2) }
        await device.close()
    }

    @Test func aReceiptFollowsTheMessageToAckedAndNoneIsKeptWithoutOne() async throws {
        let name = TestCluster.uniqueDevice("api-rcpt")
        let device = try await TestCluster.connect(name, edge: 1)
        let id = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name])))[0].id
        #expect(try await device.nextMessage(within: 30).id == id)  // auto-acked
        let receipt = try await eventually("/v1/devices/\(name)/messages/\(id)") { $0["state"] as? String == "acked" }
        #expect(receipt["state"] as? String == "acked" && receipt["device"] as? String == name)
        #expect(receipt["acked_at"] is Int && receipt["updated_at"] is Int)

        let without = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], extra: #","receipt":false"#)))[0].id
        #expect(try await device.nextMessage(within: 30).id == without)
        let none = try await API.call("GET", "/v1/devices/\(name)/messages/\(without)", key: TestCluster.apiReadKey)
        #expect(none.status == 404)
        #expect(try API.error(none) == "not_found")
        await device.close()
    }
}
