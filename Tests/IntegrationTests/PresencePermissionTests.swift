import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Shared
import Testing

/// Presence permissions through the shared cluster (docs/presence.md, "Permissions"): the edge stamps the sender's
/// claims on each record, the service enforces `watch` and `rooms`, and an edge's service file can give defaults.
@Suite(.timeLimit(.minutes(3)))
struct PresencePermissionTests {
    /// The `code` and `message` of an error reply, or nil for another reply.
    func refusal(_ reply: [String: any Sendable]) -> (code: String, message: String)? {
        guard reply["op"] as? String == "error" else { return nil }
        return (reply["code"] as? String ?? "", reply["message"] as? String ?? "")
    }

    @Test func withoutClaimsADeviceHasItsOwnEntryAndNothingElse() async throws {
        let device = TestCluster.uniqueDevice("pn")
        let other = TestCluster.uniqueDevice("pn-other")
        let room = TestCluster.uniqueDevice("pn-room")
        let probe = try await PresenceProbe.connect(device, edge: 0, rooms: [], watch: [])
        defer { Task { await probe.close() } }

        let watch = refusal(try await probe.op(#"{"op":"watch","devices":["\#(other)"]}"#))
        #expect(watch?.code == "forbidden" && watch?.message.contains(other) == true, "\(String(describing: watch))")
        let join = refusal(try await probe.op(#"{"op":"join","room":"\#(room)"}"#))
        #expect(join?.code == "forbidden" && join?.message.contains("room \(room)") == true, "\(String(describing: join))")

        // Always allowed: its own entry, watching itself, unwatching and leaving.
        #expect(try await probe.op(#"{"op":"set","status":"busy"}"#)["op"] as? String == "presence")
        let own = try await probe.op(#"{"op":"watch","devices":["\#(device)"]}"#)
        #expect(own["op"] as? String == "snapshot" && (own["presence"] as? [any Sendable])?.count == 1)
        #expect(try await probe.op(#"{"op":"unwatch","devices":["\#(other)"]}"#)["op"] as? String == "unwatched")
        #expect(try await probe.op(#"{"op":"leave","room":"\#(room)"}"#)["op"] as? String == "left")
    }

    @Test func withTheClaimsItWatchesAndJoinsWhatTheyMatchOnly() async throws {
        let stem = TestCluster.uniqueDevice("pc")
        let watcher = try await PresenceProbe.connect("\(stem)-watcher", edge: 0, rooms: ["\(stem).*"], watch: ["\(stem)-team-*"])
        let mate = try await PresenceProbe.connect("\(stem)-team-mate", edge: 1)
        let stranger = try await PresenceProbe.connect("\(stem)-stranger", edge: 1)
        defer { Task { await watcher.close(); await mate.close(); await stranger.close() } }

        // All or nothing: the stranger is refused, so the mate is not watched either.
        let mixed = refusal(try await watcher.op(#"{"op":"watch","devices":["\#(mate.device)","\#(stranger.device)"]}"#))
        #expect(mixed?.code == "forbidden" && mixed?.message.contains(stranger.device) == true
                && mixed?.message.contains(mate.device) == false, "\(String(describing: mixed))")
        #expect(try await mate.op(#"{"op":"set","status":"unseen"}"#)["op"] as? String == "presence")

        let snapshot = try await watcher.op(#"{"op":"watch","devices":["\#(mate.device)"]}"#)
        #expect(snapshot["op"] as? String == "snapshot", "\(snapshot)")
        #expect(try await mate.op(#"{"op":"set","status":"seen"}"#)["op"] as? String == "presence")
        _ = try await watcher.change(of: mate.device, status: "seen", within: PresenceTests.changeWithin)
        #expect(!watcher.pending.contains { $0.json["status"] as? String == "unseen" },
                "the refused watch watched nobody, so the change before the allowed watch never came")

        let joined = try await watcher.join("\(stem).a")
        #expect(joined["op"] as? String == "snapshot" && joined["room"] as? String == "\(stem).a", "\(joined)")
        for room in ["\(stem)", "\(stem).a.b", "\(stem)x.a"] {
            let refused = refusal(try await watcher.op(#"{"op":"join","room":"\#(room)"}"#))
            #expect(refused?.code == "forbidden", "\(room): \(String(describing: refused))")
        }
    }

    @Test func theServiceFilesDefaultsOpenPresenceWhereTheTokenIsSilent() async throws {
        let dir = try EdgeProbe.temporaryDirectory("presence-defaults")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/services.json"
        try #"{"services":[{"name":"echo"},{"name":"presence","claims":{"rooms":[">"],"watch":[">"]}}]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let edge = try await EdgeProbe.startEdge("presence-defaults", ["--services-file", file])
        defer { edge.process.stop() }

        let stem = TestCluster.uniqueDevice("pd")
        let open = try await PresenceProbe.connect("\(stem)-open", url: edge.url, rooms: [], watch: [])
        let narrow = try await PresenceProbe.connect("\(stem)-narrow", url: edge.url, rooms: ["\(stem)-mine"], watch: [])
        let elsewhere = try await PresenceProbe.connect("\(stem)-elsewhere", edge: 0, rooms: [], watch: [])
        defer { Task { await open.close(); await narrow.close(); await elsewhere.close() } }

        // No claims in the token: the defaults open every device and room.
        #expect(try await open.op(#"{"op":"watch","devices":["\#(narrow.device)"]}"#)["op"] as? String == "snapshot")
        #expect(try await open.join("\(stem)-any")["op"] as? String == "snapshot")
        // The token's own claim wins over the default; `watch`, which it lacks, comes from the defaults.
        #expect(refusal(try await narrow.op(#"{"op":"join","room":"\#(stem)-any"}"#))?.code == "forbidden")
        #expect(try await narrow.join("\(stem)-mine")["op"] as? String == "snapshot")
        #expect(try await narrow.op(#"{"op":"watch","devices":["\#(open.device)"]}"#)["op"] as? String == "snapshot")
        // The shared edges have no service file: the same token there gets nothing.
        #expect(refusal(try await elsewhere.op(#"{"op":"join","room":"\#(stem)-any"}"#))?.code == "forbidden")
    }

    @Test func aServiceFileWithABadClaimStopsTheEdgeNamingIt() async throws {
        let dir = try EdgeProbe.temporaryDirectory("presence-bad-defaults")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/services.json"
        try #"{"services":[{"name":"presence","claims":{"rooms":"everything"}}]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try await EdgeProbe.run(TestCluster.gatewayExecutable,
                                                       ["edge", "--plaintext", "--services-file", file, "--print-config"])
        #expect(status != 0)
        #expect(output.contains(#"service file \#(file): service "presence", claim "rooms": expected an array of patterns"#), "\(output)")
    }

    @Test func gatewayTokenMintsRoomsAndWatchAndRefusesMalformedPatterns() async throws {
        let (status, output) = try await EdgeProbe.run(TestCluster.gatewayExecutable,
                                                       ["token", "--device", "d-cli", "--rooms", "team-7.*,lobby", "--watch", "user-42-*"])
        #expect(status == 0, "\(output)")
        let token = try #require(output.split(whereSeparator: \.isNewline).last.map(String.init))
        let grant = try await TokenAuthority(secret: TokenAuthority.developmentSecret).verify(token, device: "d-cli")
        let claims = try #require(try JSONSerialization.jsonObject(with: Data(grant.claims)) as? [String: Any])
        #expect(claims["rooms"] as? [String] == ["team-7.*", "lobby"] && claims["watch"] as? [String] == ["user-42-*"])

        for (option, bad) in [("--rooms", "team.>.x"), ("--watch", "{sub}-*"), ("--topics", "a b")] {
            let refused = try await EdgeProbe.run(TestCluster.gatewayExecutable, ["token", "--device", "d-cli", option, bad])
            #expect(refused.status != 0 && refused.output.contains("\(option): topic pattern"), "\(option) \(bad): \(refused.output)")
        }
    }
}
