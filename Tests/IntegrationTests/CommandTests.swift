import ChannelClient
import DevCluster
import Foundation
import Shared
import Testing

/// The `gateway` commands as a user runs them.
@Suite(.timeLimit(.minutes(3)))
struct CommandTests {
    let gateway = TestCluster.gatewayExecutable

    func run(_ arguments: [String], name: String, environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
        let process = try LocalProcess(name: name, executable: gateway, arguments: arguments, environment: environment)
        await process.exit(within: 30)
        return (process.stop(grace: 1), process.output(lastLines: 400))
    }

    @Test func edgeRefusesToStartWithoutABroker() async throws {
        let deadPort = try FreePort.next()
        let (status, output) = try await run(["edge", "--id", "e-x", "--port", "\(try FreePort.next())",
                                        "--kafka", "127.0.0.1:\(deadPort)", "--redis", "127.0.0.1:\(try await TestCluster.shared.redis.port)"],
                                       name: "edge-no-broker")
        #expect(status != 0)
        #expect(output.contains("cannot reach Kafka broker at 127.0.0.1:\(deadPort)"), "\(output)")
    }

    @Test func edgeRefusesToStartWithoutRedis() async throws {
        let deadPort = try FreePort.next()
        let (status, output) = try await run(["edge", "--id", "e-y", "--port", "\(try FreePort.next())",
                                        "--kafka", try await TestCluster.shared.broker.bootstrap, "--redis", "127.0.0.1:\(deadPort)"],
                                       name: "edge-no-redis")
        #expect(status != 0)
        #expect(output.contains("cannot reach Redis at 127.0.0.1:\(deadPort)"), "\(output)")
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let deadPort = try FreePort.next()
        let (status, output) = try await run(["edge", "--id", "e-json", "--port", "\(try FreePort.next())", "--log-format", "json",
                                              "--kafka", try await TestCluster.shared.broker.bootstrap, "--redis", "127.0.0.1:\(deadPort)"],
                                             name: "edge-json-logs")
        #expect(status != 0)
        let records = output.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }
        #expect(!records.isEmpty, "\(output)")
        for record in records {
            #expect(record["level"] != nil && record["msg"] != nil && record["logger"] == "edge.e-json" && record["ts"]?.hasSuffix("Z") == true)
        }
        #expect(records.contains { $0["msg"]?.contains("Redis") == true && $0["redis"] == "127.0.0.1:\(deadPort)" }, "metadata becomes fields")
    }

    @Test func configurationComesFromFlagsThenEnvironmentThenFileAndSecretsAreRedacted() async throws {
        let file = NSTemporaryDirectory() + "cg-config-\(getpid()).json"
        try #"{"kafka": "file-broker:9092", "redis": "file-redis:6379", "message-burst": 11, "drain-rate": 77, "heartbeat": 40, "redis-password": "file-password-1234", "token-secret": "a-file-token-secret-of-at-least-32-bytes!"}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, output) = try await run(["edge", "--config", file, "--plaintext", "--print-config", "--drain-rate", "99"], name: "print-config",
                                             environment: ["CG_MESSAGE_BURST": "22", "CG_DRAIN_RATE": "55", "CG_REDIS": "env-redis:6380"])
        #expect(status == 0, "\(output)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        #expect(config["kafka"] as? String == "file-broker:9092", "only the file sets it")
        #expect(config["heartbeat"] as? Int == 40, "only the file sets it")
        #expect(config["redis"] as? String == "env-redis:6380", "the environment beats the file")
        #expect(config["message-burst"] as? Int == 22, "the environment beats the file")
        #expect(config["drain-rate"] as? Int == 99, "a flag beats the environment and the file")
        #expect(config["max-message-bytes"] as? Int == 65536, "the default when nobody sets it")
        #expect(config["redis-password"] as? String == "<redacted>")
        #expect(!output.contains("file-password-1234") && !output.contains("a-file-token-secret"), "no secret is printed")
        for command in ["router", "echo"] {
            let printed = try await run([command, "--config", file, "--print-config"], name: "print-config-\(command)")
            let values = try JSONSerialization.jsonObject(with: Data(printed.output.utf8)) as? [String: Any]
            #expect(printed.status == 0 && values?["kafka"] as? String == "file-broker:9092", "\(command): \(printed.output)")
        }
    }

    @Test func anInvalidSettingStopsTheStartNamingItsKey() async throws {
        let file = NSTemporaryDirectory() + "cg-bad-config-\(getpid()).json"
        try #"{"message-burst": "lots"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let fromFile = try await run(["edge", "--config", file, "--plaintext", "--print-config"], name: "bad-config")
        #expect(fromFile.status != 0)
        #expect(fromFile.output.contains("message-burst: \"lots\" is not an integer (config file \(file))"), "\(fromFile.output)")
        let fromEnvironment = try await run(["edge", "--plaintext", "--print-config"], name: "bad-env", environment: ["CG_HEARTBEAT": "soon"])
        #expect(fromEnvironment.status != 0)
        #expect(fromEnvironment.output.contains("heartbeat: \"soon\" is not an integer (environment variable CG_HEARTBEAT)"), "\(fromEnvironment.output)")
        let missing = try await run(["edge", "--config", "/nonexistent/cg.json", "--plaintext"], name: "missing-config")
        #expect(missing.status != 0 && missing.output.contains("cannot read the configuration file"), "\(missing.output)")
    }

    @Test func connectionEventsAndTheHeartbeatTTLAreEdgeSettings() async throws {
        func printed(_ arguments: [String], _ environment: [String: String]? = nil) async throws -> [String: Any] {
            let (status, output) = try await run(["edge", "--plaintext", "--print-config"] + arguments, name: "events-config",
                                                 environment: environment)
            #expect(status == 0, "\(output)")
            return try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        }
        let defaults = try await printed([])
        #expect(defaults["connection-events"] as? Bool == true && defaults["edge-heartbeat-ttl"] as? Int == 15)
        let flags = try await printed(["--no-connection-events", "--edge-heartbeat-ttl", "3"])
        #expect(flags["connection-events"] as? Bool == false && flags["edge-heartbeat-ttl"] as? Int == 3)
        let environment = try await printed([], ["CG_CONNECTION_EVENTS": "0", "CG_EDGE_HEARTBEAT_TTL": "4"])
        #expect(environment["connection-events"] as? Bool == false && environment["edge-heartbeat-ttl"] as? Int == 4)
        #expect(try await printed(["--connection-events"], ["CG_CONNECTION_EVENTS": "0"])["connection-events"] as? Bool == true,
                "the flag beats the environment")
        let bad = try await run(["edge", "--plaintext", "--print-config"], name: "bad-events", environment: ["CG_CONNECTION_EVENTS": "maybe"])
        #expect(bad.status != 0 && bad.output.contains("connection-events: \"maybe\" is not 1 or 0"), "\(bad.output)")
        let zero = try await run(["edge", "--plaintext", "--print-config", "--edge-heartbeat-ttl", "0"], name: "bad-ttl")
        #expect(zero.status != 0 && zero.output.contains("--edge-heartbeat-ttl: 1 to 3600 seconds"), "\(zero.output)")
    }

    @Test func tokenPrintsOnlyAVerifiableToken() async throws {
        let (status, output) = try await run(["token", "--device", "d-cli", "--services", "echo,push", "--ttl", "5m"], name: "token")
        #expect(status == 0)
        let token = output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!token.contains("\n") && token.split(separator: ".").count == 3)
        let grant = try await TokenAuthority(secret: TokenAuthority.developmentSecret).verify(token, device: "d-cli")
        #expect(grant.services == ["echo", "push"])
        #expect(grant.expiresAt.timeIntervalSinceNow > 240 && grant.expiresAt.timeIntervalSinceNow <= 300)
    }

    /// The README's run command ends in `gateway dev`: it must start a working cluster and leave nothing behind.
    @Test func devStartsAWorkingClusterAndStopsEveryPart() async throws {
        let port = try FreePort.consecutive(2, from: 10_000 + Int.random(in: 0..<20_000))
        let dev = try LocalProcess(name: "dev", executable: gateway,
                                   arguments: ["dev", "--port", "\(port)", "--no-demo", "--push-port", "\(try FreePort.next())",
                                               "--api-port", "\(try FreePort.next())",
                                               "--log-dir", NSTemporaryDirectory() + "cg-dev-test-\(port)"])
        try await dev.line(containing: "ready:", timeout: 120)
        for part in ["redis 127.0.0.1:", "broker 127.0.0.1:", "router ready", "edge-1 ws://127.0.0.1:\(port)/v1/channel",
                     "edge-2 ws://127.0.0.1:\(port + 1)/v1/channel", ", admin http://127.0.0.1:"] {
            #expect(dev.recentOutput.contains(part), "dev prints \(part)")
        }
        let children = Self.descendants(of: dev.pid)
        #expect(children.count >= 8, "redis, tansu, router, two edges, echo, push, presence: \(children)")

        let client = try await DeviceClient.connect(to: "ws://127.0.0.1:\(port + 1)/v1/channel")
        _ = try await client.hello(device: "d-dev", token: try await TestCluster.token("d-dev"))
        try await client.send(service: "echo", json: #"{"via":"dev"}"#)
        #expect(try await client.nextMessage(within: 30).payload == .json(Array(#"{"via":"dev"}"#.utf8)))
        await client.close()

        dev.signal(SIGTERM)
        await dev.exit(within: 30)
        #expect(!dev.isRunning)
        let survivors = children.filter { kill($0, 0) == 0 && !Self.isZombie($0) }
        #expect(survivors.isEmpty, "processes left behind: \(survivors)")
        survivors.forEach { kill($0, SIGKILL) }
    }

    static func descendants(of pid: Int32) -> [Int32] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        let parents = Dictionary(uniqueKeysWithValues: all.compactMap { p -> (Int32, Int32)? in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 ? Int32(fields[1]).map { (p, $0) } : nil
        })
        var result: [Int32] = []
        var frontier = [pid]
        while let next = frontier.popLast() {
            let kids = parents.filter { $0.value == next }.map(\.key)
            result += kids
            frontier += kids
        }
        return result
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return true
        }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}
