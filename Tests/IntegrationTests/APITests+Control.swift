import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Testing

/// Disconnect, drain, edges and cluster of `gateway api` against the shared cluster (its edges are never drained
/// here: other suites use them; draining itself is the edge's and is tested with an edge of its own elsewhere).
@Suite(.timeLimit(.minutes(3)))
struct APIControlTests {
    @Test func aDisconnectClosesTheDevicesConnectionWith4010() async throws {
        let name = TestCluster.uniqueDevice("api-kick")
        let device = try await TestCluster.connect(name, edge: 0)
        let reply = try await API.call("POST", "/v1/devices/\(name)/disconnect", key: TestCluster.apiAdminKey, json: "{}")
        #expect(reply.status == 200, "\(reply.text)")
        let answer = try API.object(reply)
        #expect(answer["device"] as? String == name && answer["edge"] as? String == "edge-1")
        #expect((answer["session"] as? String)?.isEmpty == false)
        var closed: UInt16?
        for _ in 0..<10 {
            if case .closed(let code) = try await device.nextEvent(within: 10) { closed = code; break }
        }
        #expect(closed == 4010)
        let again = try await API.call("POST", "/v1/devices/\(name)/disconnect", key: TestCluster.apiAdminKey)
        #expect(again.status == 404, "\(again.text)")
        #expect(try API.error(again) == "offline")
        // The body is optional: a POST with none at all, not even a Content-Length (as `curl -X POST` sends), is the defaults.
        let client = try await HTTPTestClient.connect(try await API.url)
        let bare = try await client.request("POST", "/v1/devices/\(name)/disconnect",
                                            headers: [("Authorization", "Bearer \(TestCluster.apiAdminKey)")], noLength: true)
        #expect(bare.status == 404, "\(bare.status) \(bare.text)")
        #expect(try API.error(bare) == "offline")
        await client.close()
    }

    @Test func aDisconnectWithACodeNoClientMayGetIs400() async throws {
        let reply = try await API.call("POST", "/v1/devices/d-1/disconnect", key: TestCluster.apiAdminKey, json: #"{"code":1006}"#)
        #expect(reply.status == 400)
        let delay = try await API.call("POST", "/v1/devices/d-1/disconnect", key: TestCluster.apiAdminKey,
                                       json: #"{"reconnect_after_ms":3600001}"#)
        #expect(delay.status == 400)
    }

    /// Drain through the API on an edge started for this test: its device gets `reconnect` and 4005, the edge exits
    /// normally, and a second drain finds no live edge.
    @Test func drainingAnEdgeMovesItsDeviceAndTheEdgeExits() async throws {
        let edge = try await EdgeProbe.startEdge("api-drain", ["--drain-rate", "100", "--drain-deadline", "10"])
        let id = edge.id
        let name = TestCluster.uniqueDevice("api-drained")
        let client = try await DeviceClient.connect(to: edge.url)
        _ = try await client.hello(device: name, token: try await TestCluster.token(name))

        let reply = try await API.call("POST", "/v1/edges/\(id)/drain", key: TestCluster.apiAdminKey)
        #expect(reply.status == 202, "\(reply.text)")
        #expect(try API.object(reply)["edge"] as? String == id && API.object(reply)["draining"] as? Bool == true)
        var reconnect = false, closed: UInt16?
        for _ in 0..<10 {
            switch try await client.nextEvent(within: 15) {
            case .frame(.reconnect): reconnect = true
            case .closed(let code): closed = code
            default: break
            }
            if closed != nil { break }
        }
        #expect(reconnect && closed == CloseCode.draining.rawValue, "reconnect \(reconnect), closed with \(closed.map(String.init) ?? "nothing")")
        try await within(20, "the drained edge to exit") {
            while edge.process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(edge.process.stop() == 0)
        let again = try await API.call("POST", "/v1/edges/\(id)/drain", key: TestCluster.apiAdminKey)
        #expect(again.status == 404 && (try? API.error(again)) == "not_found", "\(again.text)")
    }

    @Test func drainingAnEdgeThatIsNotRunningIs404() async throws {
        let reply = try await API.call("POST", "/v1/edges/no-such-edge/drain", key: TestCluster.apiAdminKey)
        #expect(reply.status == 404)
        #expect(try API.error(reply) == "not_found")
    }

    @Test func edgesAndTheClusterListTheRunningParts() async throws {
        let edges = try #require(try API.object(try await API.call("GET", "/v1/edges", key: TestCluster.apiReadKey))["edges"] as? [[String: Any]])
        for id in ["edge-1", "edge-2"] {
            let edge = try #require(edges.first { $0["id"] as? String == id }, "\(edges)")
            #expect(edge["alive"] as? Bool == true && edge["draining"] as? Bool == false)
            #expect((edge["address"] as? String)?.isEmpty == false)
        }
        let cluster = try API.object(try await API.call("GET", "/v1/cluster", key: TestCluster.apiReadKey))
        let routers = try #require(cluster["routers"] as? [[String: Any]])
        #expect(routers.contains { $0["alive"] as? Bool == true })
        // Whatever groups the broker lists (Tansu lists none here); each with its partitions' lag adding up.
        let groups = try #require(cluster["consumer_groups"] as? [[String: Any]])
        for group in groups {
            let partitions = try #require(group["partitions"] as? [[String: Any]])
            #expect(group["lag"] as? Int == partitions.compactMap { $0["lag"] as? Int }.reduce(0, +))
        }
        // Other suites start and stop edges of their own meanwhile: the shared ones are in both lists.
        let clusterEdges = Set((cluster["edges"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        #expect(clusterEdges.isSuperset(of: ["edge-1", "edge-2"]), "\(clusterEdges)")
    }
}
