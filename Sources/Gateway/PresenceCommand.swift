import Admin
import ArgumentParser
import Lifecycle
import PresenceService
import Shared

struct PresenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Run the presence service: devices set their status and watch others'; edges' connection events keep online true (docs/presence.md).")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = common.logger("presence")
        if common.printConfig {
            try EffectiveConfig.print(EffectiveConfig.common(common, kafka: try common.kafkaConfig(), redis: try common.redisSettings()))
            return
        }
        AdminEndpoint.bootstrapMetrics()  // before the service makes its metrics
        let presence = PresenceService(topics: common.topics, kafka: try common.kafkaConfig(), redis: try common.redisSettings(),
                                       logger: logger)
        try await BackendRun.run("presence", common: common, logger: logger, redis: true,
                                 start: { try await offload { try presence.start() } }, isAssigned: { presence.isAssigned },
                                 producers: { presence.kafkaProducers },
                                 readyLine: { "(consumes \(common.topics.up(PresenceService.service)) and \(common.topics.connections))" },
                                 services: { presence.services })
    }
}
