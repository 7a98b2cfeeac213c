import Admin
import ArgumentParser
import EchoService
import Lifecycle
import Shared

struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo", abstract: "Run the example echo service: every message to service echo comes back.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = common.logger("echo")
        if common.printConfig {
            try EffectiveConfig.print(EffectiveConfig.common(common, kafka: try common.kafkaConfig(), redis: try common.redisSettings()))
            return
        }
        AdminEndpoint.bootstrapMetrics()  // before the service makes its metrics
        let echo = EchoService(topics: common.topics, kafka: try common.kafkaConfig(), logger: logger)
        try await BackendRun.run("echo", common: common, logger: logger, redis: false,
                                 start: { try await offload { try echo.start() } }, isAssigned: { echo.isAssigned },
                                 producers: { echo.kafkaProducers },
                                 readyLine: { "(consumes \(common.topics.up(EchoService.service)))" },
                                 services: { [("echo", echo)] })
    }
}
