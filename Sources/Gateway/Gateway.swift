import ArgumentParser
import Foundation

/// `gateway`: every part of Channel Gateway in one executable.
@main
struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Channel Gateway: one multiplexed WebSocket per device, to many services over Kafka.",
        subcommands: [DevCommand.self, EdgeCommand.self, RouterCommand.self, EchoCommand.self, PushCommand.self,
                      PresenceCommand.self, TokenCommand.self, RevokeCommand.self, ApiCommand.self,
                      AdminCommand.self])

    /// Reads the configuration file (if any) before the command line, since flags fall back to it.
    static func main() async {
        do {
            try await Settings.load(arguments: CommandLine.arguments)
        } catch {
            FileHandle.standardError.write(Data("error: cannot read the configuration file: \(error)\n".utf8))
            Foundation.exit(64)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
