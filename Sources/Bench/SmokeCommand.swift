import ArgumentParser
import Foundation

/// `gateway-bench smoke`: every scenario at a tiny size for a few seconds, so the generator cannot rot unnoticed
/// (run by `.ci/run`). It checks that each scenario moved traffic, not how fast.
struct SmokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "smoke", abstract: "Every scenario, tiny and short (CI).")

    @Option(help: "The gateway executable (default: the one built next to gateway-bench).")
    var gateway: String?

    @Option(help: "Directory the JSON results are written to.")
    var results = ".build/bench-smoke"

    func run() async throws {
        var common = ["--results", results]
        if let gateway { common += ["--gateway", gateway] }
        var failures: [String] = []
        func check(_ name: String, _ ok: Bool, _ detail: String) {
            print("smoke \(name): \(ok ? "ok" : "FAILED") (\(detail))")
            if !ok { failures.append(name) }
        }

        let c = try await ConnectionsScenario.parse(common + ["--devices", "300", "--edges", "2", "--hold", "1"]).execute()
        check("connections", c.figures["connected"] == 300, "connected \(Int(c.figures["connected"] ?? 0))/300")

        let u = try await UpstreamScenario.parse(common + ["--devices", "20", "--warmup", "1", "--duration", "2", "--encoding", "json"]).execute()
        check("upstream (json)", (u.figures["acked_per_s"] ?? 0) > 0 && u.figures["refused"] == 0,
              "\(Int(u.figures["acked_per_s"] ?? 0)) acked/s")

        let r = try await RoundtripScenario.parse(common + ["--devices", "20", "--rate", "100", "--warmup", "2", "--duration", "2"]).execute()
        check("roundtrip (binary)", (r.figures["roundtrip_count"] ?? 0) > 50, "\(Int(r.figures["roundtrip_count"] ?? 0)) replies, p99 \(r.figures["roundtrip_p99_ms"] ?? 0) ms")

        let d = try await DownstreamScenario.parse(common + ["--devices", "20", "--warmup", "2", "--duration", "2"]).execute()
        check("downstream", (d.figures["delivered_per_s"] ?? 0) > 0, "\(Int(d.figures["delivered_per_s"] ?? 0)) delivered/s")

        let k = try await ReconnectScenario.parse(common + ["--devices", "100", "--edges", "2"]).execute()
        check("reconnect", k.figures["devices_reconnected"] == 100, "\(Int(k.figures["devices_reconnected"] ?? 0))/100 in \(k.figures["all_reconnected_s"] ?? -1) s")

        let dc = try await DownstreamScenario.parse(common + ["--devices", "20", "--warmup", "2", "--duration", "2", "--redis-cluster"]).execute()
        check("downstream (redis cluster)", (dc.figures["delivered_per_s"] ?? 0) > 0, "\(Int(dc.figures["delivered_per_s"] ?? 0)) delivered/s")

        let fb = try await FanoutScenario.parse(common + ["--mode", "broadcast", "--subscribers", "200", "--edges", "2", "--probes", "2",
                                                          "--rate", "20", "--duration", "1", "--drain", "10"]).execute()
        check("fanout broadcast", fb.figures["single_message_behind"] == 0 && fb.figures["sustained_all_delivered_after_s"].map { $0 >= 0 } == true
              && fb.figures["gaps"] == 0, "\(Int(fb.figures["deliveries_per_s"] ?? 0)) deliveries/s, single message p99 \(fb.figures["single_message_p99_ms"] ?? -1) ms")

        let fs = try await FanoutScenario.parse(common + ["--mode", "storm", "--subscribers", "100", "--edges", "2", "--missed", "10"]).execute()
        check("fanout storm", fs.figures["devices_caught_up"] == 100 && fs.figures["gaps"] == 0,
              "\(Int(fs.figures["devices_caught_up"] ?? 0))/100 caught up in \(fs.figures["all_caught_up_s"] ?? -1) s")

        let m = try await MailboxMemoryScenario.parse(common + ["--devices", "100", "--per-device", "2"]).execute()
        check("mailbox-memory", m.figures["stored"] == 200, "\(Int(m.figures["stored"] ?? 0))/200 stored, \(Int(m.figures["redis_bytes_per_waiting_message"] ?? 0)) B each")

        let a = try await APIScenario.parse(common + ["--connections", "2", "--devices", "200", "--warmup", "1", "--duration", "2"]).execute()
        check("api", (a.figures["single_requests_per_s"] ?? 0) > 0 && (a.figures["batch100_requests_per_s"] ?? 0) > 0
              && a.figures["single_failures"] == 0 && a.figures["batch100_failures"] == 0,
              "\(Int(a.figures["single_requests_per_s"] ?? 0)) single sends/s, \(Int(a.figures["batch100_requests_per_s"] ?? 0)) batches/s")

        if !failures.isEmpty { throw BenchError("smoke failed: \(failures.joined(separator: ", "))") }
        print("smoke: every scenario ran")
    }
}
