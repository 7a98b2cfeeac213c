import Admin
import ArgumentParser
import Foundation
import GatewayAPI
import Shared

struct ApiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Run the HTTP API: send to devices and topics, read device status, mailboxes and receipts, control edges (docs/api.md, docs/openapi.yaml).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address the HTTP API listens on (env CG_API_HOST).")
    var host: String = env("CG_API_HOST") ?? "127.0.0.1"

    @Option(help: "Port of the HTTP API (env CG_API_PORT).")
    var port: Int = Settings.int("CG_API_PORT", default: 8095)

    @Option(name: .customLong("api-key"),
            help: ArgumentHelp("A key as SCOPES:SECRET, SCOPES being send, read and admin joined by + (secret: 16 or more visible characters); repeatable, at least one (env CG_API_KEYS, comma-separated). Never printed.",
                               valueName: "scopes:secret"))
    var apiKeys: [String] = []

    @Option(help: "Largest request body, in bytes; larger ones get 413 unread (env CG_API_MAX_BODY_BYTES).")
    var maxBodyBytes = Settings.int("CG_API_MAX_BODY_BYTES", default: 1 << 20)

    @Option(help: "Access-Control-Allow-Origin of every response (env CG_API_CORS_ORIGIN).")
    var corsOrigin: String = env("CG_API_CORS_ORIGIN") ?? "*"

    @Option(help: "Comma-separated services a send may name, as the edges offer them (env CG_SERVICES).")
    var services: String = env("CG_SERVICES") ?? Defaults.services.joined(separator: ",")

    @Option(help: "A JSON service file, as the edges read; overrides --services (env CG_SERVICES_FILE).")
    var servicesFile: String?

    @Option(help: "The installation's hand-off secret, as the edges have it, for disconnect and drain (env CG_HANDOFF_SECRET); never printed.")
    var handoffSecret: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port: 0 to 65535") }
        guard (1...64 * 1024 * 1024).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes: 1 to 64 MiB") }
        guard !corsOrigin.isEmpty, !corsOrigin.contains(where: { $0.isNewline }) else {
            throw ValidationError("--cors-origin: one origin (https://app.example) or *")
        }
        guard !(try keys()).isEmpty else {
            throw ValidationError("--api-key: give at least one key (SCOPES:SECRET), or CG_API_KEYS")
        }
    }

    private func keys() throws -> [APIKey] {
        do { return try APIKey.parseAll(apiKeys, environment: env("CG_API_KEYS")) } catch {
            throw ValidationError("--api-key: \(error.description)")
        }
    }

    private func serviceNames() throws -> Set<String> {
        try ServiceCatalogOption.catalog(file: servicesFile, names: services, topics: common.topics).names
    }

    func run() async throws {
        let logger = common.logger("api")
        let kafka = try common.kafkaConfig()
        var settings = APIServer.Configuration()
        settings.host = host
        settings.port = port
        settings.keys = try keys()
        settings.maxBodyBytes = maxBodyBytes
        settings.corsOrigin = corsOrigin
        settings.services = try serviceNames()
        settings.handoffSecret = handoffSecret ?? env("CG_HANDOFF_SECRET") ?? ""
        if common.printConfig {
            var all = EffectiveConfig.common(common, kafka: kafka, redis: try common.redisSettings())
            // Named as in the configuration file (the environment variable without CG_, docs/operations.md).
            all["api-host"] = host
            all["api-port"] = port
            all["api-keys"] = EffectiveConfig.redacted
            all["api-max-body-bytes"] = maxBodyBytes
            all["api-cors-origin"] = corsOrigin
            all["services"] = settings.services.sorted()
            all["handoff-secret"] = settings.handoffSecret.isEmpty ? NSNull() : EffectiveConfig.redacted
            try EffectiveConfig.print(all)
            return
        }
        // Fingerprints only: a key's secret never reaches a log.
        logger.info("api keys: \(settings.keys.map(\.description).joined(separator: ", "))")
        AdminEndpoint.bootstrapMetrics()  // before the server makes its metrics
        let server = APIServer(topics: common.topics, kafka: kafka, redis: try common.redisSettings(), configuration: settings,
                               logger: logger)
        try await BackendRun.run("api", common: common, logger: logger, redis: true,
                                 start: { try await server.start() }, isAssigned: { true },
                                 producers: { server.kafkaProducers },
                                 readyLine: { "(http://\(host):\(server.port ?? port))" },
                                 services: { server.services })
    }
}
