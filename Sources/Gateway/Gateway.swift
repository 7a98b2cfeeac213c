import ArgumentParser

/// `gateway`: every part of Channel Gateway in one executable.
@main
struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Channel Gateway: one multiplexed WebSocket per device, to many services over Kafka.",
        subcommands: [DevCommand.self, EdgeCommand.self, RouterCommand.self, EchoCommand.self, TokenCommand.self])
}
