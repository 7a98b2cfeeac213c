import ArgumentParser
import DevCluster
import Foundation

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a local cluster: Redis, a Tansu broker, a router, edges and the echo service; Ctrl-C stops it all.")

    @Option(help: "Number of edges.")
    var edges = 2

    @Option(help: "Number of routers (they share the downstream topic's partitions).")
    var routers = 1

    @Option(help: "Port of the first edge; the others follow.")
    var port = 7001

    @Option(help: "Redis port (a free one when unset).")
    var redisPort: Int?

    @Option(help: "Broker port (a free one when unset).")
    var brokerPort: Int?

    @Option(help: "Comma-separated services the edges offer.")
    var services = "echo"

    @Flag(help: "Also run the push service (gateway push); the edges then offer service push.")
    var push = false

    @Option(help: "Port of the push service's HTTP API (with --push).")
    var pushPort = 8090

    @Option(help: "Where each part writes its log.")
    var logDir = NSTemporaryDirectory() + "channel-gateway-dev"

    @Flag(help: "Also print every component's log lines here.")
    var verbose = false

    func run() async throws {
        let busy = (port..<port + edges).filter { !FreePort.isFree($0) }
        guard busy.isEmpty else {
            Lifecycle.say("failed: port \(busy.map(String.init).joined(separator: ", ")) already in use; choose another with --port")
            throw ExitCode.failure
        }
        var options = LocalCluster.Options(gatewayExecutable: CommandLine.executablePath)
        options.edges = edges
        options.routers = max(1, routers)
        options.firstEdgePort = port
        options.redisPort = redisPort
        options.brokerPort = brokerPort
        options.services = services.split(separator: ",").map(String.init)
        options.logDirectory = logDir
        options.push = push
        options.pushPort = pushPort
        if verbose { options.echoOutput = { Lifecycle.say($0) } }
        let cluster = LocalCluster(options: options)
        do {
            try cluster.start(report: Lifecycle.say)
        } catch {
            Lifecycle.say("failed: \(error)")
            cluster.stop()
            throw ExitCode.failure
        }
        Lifecycle.say("logs \(logDir)")
        Lifecycle.say("ready: \(edges) edges, \(max(1, routers)) routers; try `gateway token --device d-1` and connect to an edge above")
        await Lifecycle.waitForStop(watchStdin: false)
        Lifecycle.say("stopping")
        cluster.stop()
    }
}

extension CommandLine {
    /// The absolute path of this executable, to start the cluster's components from the same build.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
