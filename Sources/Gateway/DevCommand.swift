import Admin
import ArgumentParser
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Logging
import ServiceLifecycle

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a local cluster: Redis, a Tansu broker, a router, edges, the echo, push and presence services, the HTTP API, and a demo page; Ctrl-C stops it all.")

    @Option(help: "Number of edges.")
    var edges = 2

    @Option(help: "Number of routers (they share the downstream topic's partitions).")
    var routers = 1

    @Option(help: "Port of the first edge; the others follow.")
    var port = 7001

    @Option(help: "Redis port (a free one when unset).")
    var redisPort: Int?

    @Flag(help: "Run a Redis Cluster (three primaries, a replica each, from redis-server) instead of one Redis.")
    var redisCluster = false

    @Option(help: "Broker port (a free one when unset).")
    var brokerPort: Int?

    @Option(help: "Comma-separated services the edges offer.")
    var services = "echo"

    @Flag(inversion: .prefixedNo, help: "Run the push service (docs/push.md); the edges then offer service push.")
    var push = true

    @Option(help: "Port of the push service's HTTP API.")
    var pushPort = 8090

    @Flag(inversion: .prefixedNo, help: "Run the HTTP API (docs/api.md) with a development key of every scope, printed at start.")
    var api = true

    @Option(help: "Port of the HTTP API.")
    var apiPort = 8095

    @Option(help: "Where each part writes its log.")
    var logDir = NSTemporaryDirectory() + "channel-gateway-dev"

    @Flag(inversion: .prefixedNo, help: "Run the presence service (docs/presence.md); the edges then offer service presence.")
    var presence = true

    @Flag(help: "Also print every component's log lines here.")
    var verbose = false

    @Option(help: "Port of the demo page (a browser client of echo, push and presence).")
    var demoPort = 8080

    @Option(help: "The clients/js directory the demo page is served from (found above the executable when unset).")
    var demoDir: String?

    @Flag(help: "Do not serve the demo page.")
    var noDemo = false

    func run() async throws {
        let site: DemoSite?
        do {
            site = noDemo ? nil : try DemoSite.load(directory: demoDir)
        } catch {
            Console.say("failed: \(error)")
            throw ExitCode.failure
        }
        let wanted = (port..<port + edges).map { $0 } + (site == nil ? [] : [demoPort]) + (push ? [pushPort] : []) + (api ? [apiPort] : [])
        let busy = wanted.filter { !FreePort.isFree($0) }
        guard busy.isEmpty else {
            Console.say("failed: port \(busy.map(String.init).joined(separator: ", ")) already in use; choose others with --port, --demo-port, --push-port or --api-port")
            throw ExitCode.failure
        }
        FreePort.reserve(wanted)
        var options = LocalCluster.Options(gatewayExecutable: CommandLine.executablePath)
        options.edges = edges
        options.routers = max(1, routers)
        options.firstEdgePort = port
        options.redisPort = redisPort
        options.brokerPort = brokerPort
        options.services = services.split(separator: ",").map(String.init)
        options.logDirectory = logDir
        options.redisCluster = redisCluster
        options.presence = presence
        options.push = push
        options.pushPort = pushPort
        // The push service's topic endpoint needs an API key: one made up for this run (never a well-known one), for
        // the demo's broadcast button and for whoever reads this output.
        let topicKey = push ? "dev-" + HexText.random(bytes: 16) : nil
        if let topicKey { options.pushArguments += ["--topic-api-keys", topicKey] }
        // The API's development key, of every scope, made up for this run. It is the one API key ever printed (and handed
        // to the demo page): acceptable only because `gateway dev` is for development on one's own machine.
        let apiKey = api ? "dev-api-" + HexText.random(bytes: 16) : nil
        if let apiKey {
            options.apiKeys = ["send+read+admin:\(apiKey)"]
            options.apiPort = apiPort
        }
        if verbose { options.echoOutput = { Console.say($0) } }
        let cluster = LocalCluster(options: options)
        do {
            // Starting waits for every process's ready line: a thread of its own, not the cooperative pool.
            try await offload("dev-start") { try cluster.start(report: Console.say) }
        } catch {
            Console.say("failed: \(error)")
            _ = try? await offload { cluster.stop() }
            throw ExitCode.failure
        }
        Console.say("logs \(logDir)")
        if let topicKey, let pushURL = cluster.pushURL {
            Console.say("topics: POST \(pushURL)/v1/topics/{topic} with Authorization: Bearer \(topicKey)")
        }
        if let apiKey, let apiURL = cluster.apiURL {
            Console.say("api: \(apiURL) (docs/api.md) with Authorization: Bearer \(apiKey) (a development key of every scope)")
        }
        var demo: SimpleHTTPServer?
        if let site {
            let config = DemoConfig(edges: cluster.edges.indices.map(cluster.edgeURL), push: cluster.pushURL,
                                    services: cluster.edgeServices, topicKey: topicKey,
                                    api: cluster.apiURL, apiKey: apiKey)
            do {
                demo = try await DemoServer.start(host: "127.0.0.1", port: demoPort, site: site, config: config)
            } catch {
                Console.say("failed: cannot serve the demo page on port \(demoPort): \(error)")
                _ = try? await offload { cluster.stop() }
                throw ExitCode.failure
            }
            Console.say("demo http://127.0.0.1:\(demoPort)/ (open it in two browser tabs)")
        }
        Console.say("ready: \(edges) edges, \(max(1, routers)) routers; try `gateway token --device d-1` and connect to an edge above")
        var services: [(name: String, service: any Service)] = [
            ("cluster", ShutdownStep("cluster") { _ = try? await offload { cluster.stop() } }),
        ]
        if let demo { services.append(("demo", ShutdownStep("demo") { await demo.close() })) }
        services.append(("announce", ShutdownStep("announce") { Console.say("stopping") }))
        var logger = Logger(label: "dev")
        logger.logLevel = .warning
        try await ComponentLifecycle.run(services, logger: logger, watchStdin: false, shutdownLimit: .seconds(60))
    }
}

extension CommandLine {
    /// The absolute path of this executable, to start the cluster's components from the same build.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
