import ArgumentParser

/// `gateway-bench`: the load generator. Each scenario starts its own local cluster from the release `gateway`,
/// drives it from worker processes and writes a JSON result (docs/performance.md).
@main
struct GatewayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway-bench",
        abstract: "Measures Channel Gateway on this machine; results go to bench/results/.",
        subcommands: [ConnectionsScenario.self, UpstreamScenario.self, RoundtripScenario.self, DownstreamScenario.self,
                      ReconnectScenario.self, FanoutScenario.self, MailboxMemoryScenario.self, ChaosScenario.self, APIScenario.self, SmokeCommand.self, WorkerCommand.self])
}
