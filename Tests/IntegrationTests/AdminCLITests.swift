import ChannelClient
import DevCluster
import Foundation
import Testing

/// `gateway admin` as an operator runs it, the built binary against the shared cluster's `gateway api`: every
/// subcommand as a table and with --json (the API's JSON), the API's errors with exit 1, usage errors 64 and an API
/// that cannot be reached 69. Drain is run only against an edge that does not exist, so the shared cluster keeps its
/// edges.
@Suite(.timeLimit(.minutes(3)))
struct AdminCLITests {
    let gateway = TestCluster.gatewayExecutable

    /// Runs `gateway admin <arguments> --api <the cluster's API>`, with `key` in CG_API_KEY (nil: no key at all).
    func admin(_ arguments: [String], key: String? = TestCluster.apiAllKey, api: String? = nil) async throws -> (status: Int32, output: String) {
        let url: String = if let api { api } else { try await API.url }
        var environment = ProcessInfo.processInfo.environment
        environment["CG_API_KEY"] = key
        environment["CG_API_URL"] = nil
        let process = try LocalProcess(name: "admin", executable: gateway, arguments: ["admin"] + arguments + ["--api", url],
                                       environment: environment)
        await process.exit(within: 30)
        return (process.stop(grace: 1), process.output(lastLines: 400))
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// Two messages sent with receipts to a device that is not connected; returns their ids.
    func waitingMessages(for device: String) async throws -> [String] {
        var ids: [String] = []
        for _ in 0..<2 {
            let reply = try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [device], extra: #","receipt":true"#))
            ids += try API.sent(reply).map(\.id)
        }
        return ids
    }

    @Test func devicesMailboxReceiptAndDelete() async throws {
        let device = TestCluster.uniqueDevice("admin-cli")
        let ids = try await waitingMessages(for: device)

        let show = try await admin(["devices", "show", device])
        #expect(show.status == 0, "\(show.output)")
        #expect(show.output.contains("ONLINE   no") && show.output.contains("2 messages"), "\(show.output)")
        let showJSON = try await admin(["devices", "show", device, "--json"])
        let mailbox = try #require(try Self.object(showJSON.output)["mailbox"] as? [String: Any])
        #expect(mailbox["count"] as? Int == 2)

        let list = try await admin(["mailbox", device])
        #expect(list.status == 0 && list.output.hasPrefix("SEQ ") && list.output.contains(" ID "), "\(list.output)")
        #expect(ids.allSatisfy { list.output.contains($0) }, "\(list.output)")
        let listJSON = try await admin(["mailbox", "list", device, "--limit", "1", "--json"])
        let page = try Self.object(listJSON.output)
        #expect((page["entries"] as? [Any])?.count == 1 && page["next_after"] is Int, "\(listJSON.output)")

        let receipt = try await admin(["receipt", device, ids[0]])
        #expect(receipt.status == 0 && receipt.output.contains("STATE    waiting"), "\(receipt.output)")

        let deleteOne = try await admin(["mailbox", "delete", device, ids[0]])
        #expect(deleteOne.status == 0 && deleteOne.output.contains("deleted 1 message (\(ids[0]))"), "\(deleteOne.output)")
        let deleteAgain = try await admin(["mailbox", "delete", device, ids[0]])
        #expect(deleteAgain.status == 1 && deleteAgain.output.contains("not_found"), "\(deleteAgain.output)")
        let deleteAll = try await admin(["mailbox", "delete", device, "--json"])
        #expect(deleteAll.status == 0, "\(deleteAll.output)")
        #expect(try Self.object(deleteAll.output)["deleted"] as? Int == 1, "\(deleteAll.output)")
        let receiptJSON = try await admin(["receipt", device, ids[0], "--json"])
        #expect(try Self.object(receiptJSON.output)["state"] as? String == "deleted", "\(receiptJSON.output)")
        #expect(try await admin(["mailbox", device]).output.contains("no messages wait for \(device)"))
    }

    @Test func disconnectClosesTheConnectionWithTheCode() async throws {
        let device = TestCluster.uniqueDevice("admin-cli-dc")
        let client = try await TestCluster.connect(device, edge: 0)
        let done = try await admin(["disconnect", device, "--code", "4010", "--reconnect-after-ms", "1000"])
        #expect(done.status == 0 && done.output.contains("disconnected \(device)"), "\(done.output)")
        var code: UInt16?
        let deadline = Date().addingTimeInterval(10)
        while code == nil, Date() < deadline {
            if case .closed(let closed) = try await client.nextEvent(within: max(0.1, deadline.timeIntervalSinceNow)) { code = closed }
        }
        #expect(code == 4010)
        let offline = try await admin(["disconnect", device, "--json"])
        #expect(offline.status == 1 && offline.output.contains("offline"), "\(offline.output)")
    }

    @Test func edgesAndClusterAsTablesAndJSON() async throws {
        let edgesJSON = try await admin(["edges", "--json"], key: TestCluster.apiReadKey)
        #expect(edgesJSON.status == 0, "\(edgesJSON.output)")
        let edges = try #require(try Self.object(edgesJSON.output)["edges"] as? [[String: Any]])
        let ids = edges.compactMap { $0["id"] as? String }
        #expect(!ids.isEmpty)
        let table = try await admin(["edges"], key: TestCluster.apiReadKey)
        #expect(table.status == 0 && table.output.hasPrefix("EDGE"), "\(table.output)")
        #expect(ids.allSatisfy { table.output.contains($0) }, "\(table.output)")

        let cluster = try await admin(["cluster"], key: TestCluster.apiReadKey)
        #expect(cluster.status == 0, "\(cluster.output)")
        #expect(["EDGES", "ROUTERS", "CONSUMER GROUPS"].allSatisfy { cluster.output.contains($0) }, "\(cluster.output)")
        let clusterJSON = try Self.object(try await admin(["cluster", "--json"], key: TestCluster.apiReadKey).output)
        #expect(clusterJSON["routers"] is [Any] && clusterJSON["consumer_groups"] is [Any])
    }

    @Test func errorsAndExitStatus() async throws {
        let drain = try await admin(["drain", "no-such-edge-\(UInt32.random(in: 0...UInt32.max))"], key: TestCluster.apiAdminKey)
        #expect(drain.status == 1 && drain.output.contains("not_found"), "\(drain.output)")
        let forbidden = try await admin(["drain", "edge-x"], key: TestCluster.apiReadKey)
        #expect(forbidden.status == 1 && forbidden.output.contains("forbidden"), "\(forbidden.output)")
        let noKey = try await admin(["edges"], key: nil)
        #expect(noKey.status == 1 && noKey.output.contains("unauthorized"), "\(noKey.output)")
        #expect(!noKey.output.contains(TestCluster.apiAllKey))
        let usage = try await admin(["mailbox", "list", "d-1", "--limit", "0"])
        #expect(usage.status == 64, "\(usage.output)")
        let port = try FreePort.next()
        let unreachable = try await admin(["cluster"], api: "http://127.0.0.1:\(port)")
        #expect(unreachable.status == 69 && unreachable.output.contains("cannot reach the API"), "\(unreachable.output)")
    }
}
