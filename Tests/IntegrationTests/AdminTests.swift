import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The admin endpoint of each component: liveness, readiness and Prometheus metrics that move with traffic.
@Suite(.timeLimit(.minutes(2)))
struct AdminTests {
    @Test func everyComponentAnswersHealthAndReadiness() async throws {
        let cluster = try await TestCluster.shared
        for name in ["edge-1", "edge-2", "router-1", "echo"] {
            let url = try #require(cluster.adminURL(name), "\(name) has an admin port")
            #expect(try await Admin.get(url + "/healthz").status == 200, "\(name) /healthz")
            try await Admin.waitFor(url + "/readyz", status: 200)
            #expect(try await Admin.get(url + "/nope").status == 404)
        }
    }

    @Test func edgeMetricsMoveWithTraffic() async throws {
        let cluster = try await TestCluster.shared
        let url = try #require(cluster.adminURL("edge-1")) + "/metrics"
        let before = try await Admin.get(url).body
        for series in ["cg_edge_connections", "cg_edge_hellos_total", "cg_edge_frames_in_total", "cg_edge_frames_out_total",
                       "cg_edge_bytes_in_total", "cg_edge_bytes_out_total", "cg_edge_refusals_total",
                       "cg_kafka_produce_seconds", "cg_kafka_produce_errors_total", "cg_redis_seconds", "cg_redis_errors_total"] {
            #expect(before.contains(series), "edge /metrics has \(series)")
        }
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("metrics"), edge: 0)
        try await client.send(service: "echo", json: #"{"m":1}"#)
        _ = try await client.nextMessage()
        client.sendText(#"{"type":"nope"}"#)
        _ = try await client.nextEvent { if case .frame(.error) = $0 { return true }; return false }
        let after = try await Admin.get(url).body
        #expect(Admin.value(after, #"cg_edge_hellos_total{outcome="ok"}"#) > Admin.value(before, #"cg_edge_hellos_total{outcome="ok"}"#))
        #expect(Admin.value(after, #"cg_edge_frames_in_total{service="echo"}"#) > Admin.value(before, #"cg_edge_frames_in_total{service="echo"}"#))
        #expect(Admin.value(after, #"cg_edge_frames_out_total{service="echo"}"#) > Admin.value(before, #"cg_edge_frames_out_total{service="echo"}"#))
        #expect(Admin.value(after, #"cg_edge_refusals_total{code="unknown_type"}"#) > Admin.value(before, #"cg_edge_refusals_total{code="unknown_type"}"#))
        #expect(Admin.value(after, "cg_edge_bytes_in_total") > Admin.value(before, "cg_edge_bytes_in_total"))
        #expect(Admin.value(after, "cg_edge_connections") >= 1)
        await client.close()

        let router = try await Admin.get(try #require(cluster.adminURL("router-1")) + "/metrics").body
        #expect(Admin.value(router, #"cg_router_records_total{outcome="stored"}"#) >= 1)
        #expect(router.contains("cg_router_batch_seconds"))
        #expect(router.contains("cg_mailbox_messages"))
        #expect(router.contains(#"cg_consumer_lag{component="router",lane="1"}"#) || router.contains(#"cg_consumer_lag{lane="1",component="router"}"#),
                "the router reports its consumer lag")
    }
}

/// Plain HTTP GETs against admin endpoints.
enum Admin {
    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Waits up to `seconds` for `url` to answer `status`.
    static func waitFor(_ url: String, status: Int, within seconds: Double = 15) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var last = (status: 0, body: "")
        while Date() < deadline {
            last = (try? await get(url)) ?? (0, "unreachable")
            if last.status == status { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("\(url) answered \(last.status) (\(last.body.trimmingCharacters(in: .whitespacesAndNewlines))), not \(status), within \(seconds) s")
    }

    /// The value of the series line starting with `series` (exact name and labels), or 0.
    static func value(_ metrics: String, _ series: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}
