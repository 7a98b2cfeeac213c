import ArgumentParser
import EchoService
import Shared

struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo", abstract: "Run the example echo service: every message to service echo comes back.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = common.logger("echo")
        let echo = EchoService(topics: common.topics, kafka: try common.kafkaConfig(), logger: logger)
        do {
            try echo.start()
        } catch {
            Lifecycle.say("echo failed to start: \(error)")
            throw ExitCode.failure
        }
        await waitUntil(timeout: 60) { echo.isAssigned }
        Lifecycle.say("echo ready (consumes \(common.topics.up(EchoService.service)))")
        await Lifecycle.waitForStop(watchStdin: common.exitWithStdin)
        echo.stop()
    }
}
