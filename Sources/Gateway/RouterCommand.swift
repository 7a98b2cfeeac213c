import Admin
import ArgumentParser
import Foundation
import Router
import Shared

struct RouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "router", abstract: "Run a router: hand downstream messages to the edge holding each device.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Consumer group shared by all routers (default <prefix>-router).")
    var group: String?

    @Option(help: "Consumers of the downstream topic in this router, each on its own thread (env CG_ROUTER_LANES).")
    var lanes = Settings.int("CG_ROUTER_LANES", default: 1)

    @Option(help: "Seconds a notice may wait for its edge's ack before the router gives up on it (the message then waits in the mailbox) (env CG_HANDOFF_TIMEOUT).")
    var handoffTimeout = Settings.int("CG_HANDOFF_TIMEOUT", default: 10)

    @Option(help: "Secret to present to the edges' hand-off listeners, as configured on them (env CG_HANDOFF_SECRET).")
    var handoffSecret: String?

    func run() async throws {
        let logger = common.logger("router")
        var config = RouterConfig()
        config.topics = common.topics
        config.kafka = try common.kafkaConfig()
        config.redis = try common.redisSettings()
        config.groupID = group
        guard lanes >= 1 && lanes <= 64 else { throw ValidationError("--lanes: 1 to 64") }
        config.lanes = lanes
        guard (1...300).contains(handoffTimeout) else { throw ValidationError("--handoff-timeout: 1 to 300 seconds") }
        config.handoff.giveUpAfter = .seconds(handoffTimeout)
        config.handoff.secret = handoffSecret ?? env("CG_HANDOFF_SECRET") ?? ""
        config.routerID = "router-\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        if common.printConfig {
            var values = EffectiveConfig.common(common, kafka: config.kafka, redis: config.redis)
            values["group"] = config.effectiveGroupID
            values["router-lanes"] = config.lanes
            values["handoff-timeout"] = handoffTimeout
            values["handoff-secret"] = config.handoff.secret.isEmpty ? NSNull() : EffectiveConfig.redacted
            try EffectiveConfig.print(values)
            return
        }
        AdminEndpoint.bootstrapMetrics()
        let router = Router(config: config, logger: logger)
        let readiness = Readiness(checks: try AdminEndpoint.checks(common: common, redis: true,
                                                                     producers: { router.kafkaProducers }, logger: logger), logger: logger)
        let admin: AdminServer?
        do {
            try await router.start()
            admin = try await AdminEndpoint.start(common: common, name: "router", readiness: readiness)
        } catch {
            Console.say("router failed to start: \(error)")
            throw ExitCode.failure
        }
        await waitUntil(timeout: 60) { router.isAssigned }
        Console.say("router ready (group \(config.effectiveGroupID), topic \(config.topics.down))")
        try await ComponentLifecycle.run(AdminEndpoint.service(admin) + router.services + [("readiness", readiness)],
                                         logger: logger, watchStdin: common.exitWithStdin, shutdownLimit: .seconds(30))
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
func waitUntil(timeout: Double, _ condition: () -> Bool) async {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
}
