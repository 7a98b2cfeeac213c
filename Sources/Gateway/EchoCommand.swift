import Admin
import ArgumentParser
import EchoService
import Shared

struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo", abstract: "Run the example echo service: every message to service echo comes back.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = common.logger("echo")
        if common.printConfig {
            try EffectiveConfig.print(EffectiveConfig.common(common, kafka: try common.kafkaConfig(), redis: try common.redisEndpoint()))
            return
        }
        AdminEndpoint.bootstrapMetrics()
        let echo = EchoService(topics: common.topics, kafka: try common.kafkaConfig(), logger: logger)
        let readiness = Readiness(checks: try AdminEndpoint.checks(common: common, redis: false, logger: logger))
        let admin: AdminServer?
        do {
            try echo.start()
            admin = try await AdminEndpoint.start(common: common, name: "echo", readiness: readiness)
        } catch {
            Lifecycle.say("echo failed to start: \(error)")
            throw ExitCode.failure
        }
        await waitUntil(timeout: 60) { echo.isAssigned }
        Lifecycle.say("echo ready (consumes \(common.topics.up(EchoService.service)))")
        try await ComponentLifecycle.run(name: "echo", logger: logger, watchStdin: common.exitWithStdin,
                                         shutdownLimit: .seconds(30)) {
            readiness.markDraining()
            echo.stop()
            readiness.stop()
            await admin?.close()
        }
    }
}
