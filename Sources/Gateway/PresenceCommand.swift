import Admin
import DevCluster
import ArgumentParser
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
            try EffectiveConfig.print(EffectiveConfig.common(common, kafka: try common.kafkaConfig(), redis: try common.redisEndpoint()))
            return
        }
        AdminEndpoint.bootstrapMetrics()
        let presence = PresenceService(topics: common.topics, kafka: try common.kafkaConfig(), redis: try common.redisEndpoint(),
                                       logger: logger)
        let readiness = Readiness(checks: try AdminEndpoint.checks(common: common, redis: true, logger: logger))
        let admin: AdminServer?
        do {
            try await offload { try presence.start() }
            admin = try await AdminEndpoint.start(common: common, name: "presence", readiness: readiness)
        } catch {
            Lifecycle.say("presence failed to start: \(error)")
            throw ExitCode.failure
        }
        await waitUntil(timeout: 60) { presence.isAssigned }
        Lifecycle.say("presence ready (consumes \(common.topics.up(PresenceService.service)) and \(common.topics.connections))")
        try await ComponentLifecycle.run(name: "presence", logger: logger, watchStdin: common.exitWithStdin,
                                         shutdownLimit: .seconds(30)) {
            readiness.markDraining()
            _ = try? await offload { presence.stop() }
            readiness.stop()
            await admin?.close()
        }
    }
}
