import Admin
import ArgumentParser
import Foundation
import PushService
import Shared

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Run the push service: app servers POST /v1/push/{subscription} (and /v1/topics/{topic}), devices subscribe over service push, operators revoke tokens (/v1/revocations) (docs/push.md).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address the HTTP API listens on (env CG_PUSH_HOST).")
    var host: String = env("CG_PUSH_HOST") ?? "127.0.0.1"

    @Option(help: "Port of the HTTP API (env CG_PUSH_PORT).")
    var port: Int = Settings.int("CG_PUSH_PORT", default: 8090)

    @Option(help: "Base URL of subscription endpoints as app servers reach them; http://<host>:<port> when unset (env CG_PUSH_PUBLIC_URL).")
    var publicURL: String?

    @Option(help: "Largest push body, in bytes; larger ones get 413 (env CG_PUSH_MAX_PAYLOAD_BYTES).")
    var maxPayloadBytes = Settings.int("CG_PUSH_MAX_PAYLOAD_BYTES", default: 4096)

    @Option(help: "Pushes per subscription per minute, shared by all push instances; more get 429 (env CG_PUSH_RATE_PER_MINUTE).")
    var ratePerMinute = Settings.int("CG_PUSH_RATE_PER_MINUTE", default: 60)

    @Option(name: .customLong("api-key"),
            help: ArgumentHelp("An app-server key; when any is set, pushes need Authorization: Bearer <key>. Repeatable (env CG_PUSH_API_KEYS, comma-separated).",
                               valueName: "key"))
    var apiKeys: [String] = []

    @Option(name: .customLong("topic-api-keys"),
            help: ArgumentHelp("App-server keys for POST /v1/topics/{topic}, comma-separated; repeatable. None: that endpoint answers 403 (env CG_TOPIC_API_KEYS).",
                               valueName: "k1,k2"))
    var topicAPIKeyLists: [String] = []

    @Option(name: .customLong("admin-api-keys"),
            help: ArgumentHelp("Operators' keys for the admin API (/v1/revocations), comma-separated, at least 16 characters each; repeatable. None: it answers 403 (env CG_ADMIN_API_KEYS).",
                               valueName: "k1,k2"))
    var adminAPIKeyLists: [String] = []

    @Option(help: "Access-Control-Allow-Origin of every response (env CG_PUSH_CORS_ORIGIN).")
    var corsOrigin: String = env("CG_PUSH_CORS_ORIGIN") ?? "*"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port: 0 to 65535") }
        guard (1...1024 * 1024).contains(maxPayloadBytes) else { throw ValidationError("--max-payload-bytes: 1 to 1 MiB") }
        guard ratePerMinute >= 1 else { throw ValidationError("--rate-per-minute: at least 1") }
        guard !corsOrigin.isEmpty, !corsOrigin.contains(where: { $0.isNewline }) else {
            throw ValidationError("--cors-origin: one origin (https://app.example) or *")
        }
        if let url = resolvedPublicURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--public-url: an http:// or https:// URL")
        }
        for key in keys where key.isEmpty || key.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--api-key: a key without spaces")
        }
        for key in topicKeys where key.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--topic-api-keys: keys without spaces, separated by commas")
        }
        for key in adminKeys where key.count < 16 || key.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--admin-api-keys: keys of at least 16 characters without spaces, separated by commas")
        }
        guard adminKeys.isDisjoint(with: keys.union(topicKeys)) else {
            throw ValidationError("--admin-api-keys: an admin key must not also be an --api-key or a --topic-api-keys key")
        }
    }

    private var resolvedPublicURL: String? { publicURL ?? env("CG_PUSH_PUBLIC_URL") }

    private var keys: Set<String> {
        let fromFlags = apiKeys.isEmpty ? (env("CG_PUSH_API_KEYS")?.split(separator: ",").map(String.init) ?? []) : apiKeys
        return Set(fromFlags.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    private var topicKeys: Set<String> { Self.keyLists(topicAPIKeyLists, environment: "CG_TOPIC_API_KEYS") }

    private var adminKeys: Set<String> { Self.keyLists(adminAPIKeyLists, environment: "CG_ADMIN_API_KEYS") }

    /// Comma-separated keys from every use of a flag, else from its environment variable (or configuration file).
    private static func keyLists(_ lists: [String], environment: String) -> Set<String> {
        let lists = lists.isEmpty ? [env(environment) ?? ""] : lists
        return Set(lists.flatMap { $0.split(separator: ",") }.map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    func run() async throws {
        let logger = common.logger("push")
        let kafka = PushService.producerDefaults(try common.kafkaConfig())
        var settings = PushService.Configuration()
        settings.host = host
        settings.port = port
        settings.publicURL = resolvedPublicURL
        settings.maxPayloadBytes = maxPayloadBytes
        settings.ratePerMinute = ratePerMinute
        settings.apiKeys = keys
        settings.topicAPIKeys = topicKeys
        settings.adminAPIKeys = adminKeys
        settings.corsOrigin = corsOrigin
        if common.printConfig {
            var all = EffectiveConfig.common(common, kafka: kafka, redis: try common.redisSettings())
            all["push-host"] = host
            all["push-port"] = port
            // Named as in the configuration file (the environment variable without CG_, docs/operations.md).
            all["push-public-url"] = resolvedPublicURL ?? NSNull()
            all["push-max-payload-bytes"] = maxPayloadBytes
            all["push-rate-per-minute"] = ratePerMinute
            all["push-api-keys"] = keys.isEmpty ? NSNull() : EffectiveConfig.redacted
            all["topic-api-keys"] = topicKeys.isEmpty ? NSNull() : EffectiveConfig.redacted
            all["admin-api-keys"] = adminKeys.isEmpty ? NSNull() : EffectiveConfig.redacted
            all["push-cors-origin"] = corsOrigin
            try EffectiveConfig.print(all)
            return
        }
        AdminEndpoint.bootstrapMetrics()  // before the service makes its metrics
        let push = PushService(topics: common.topics, kafka: kafka, redis: try common.redisSettings(), configuration: settings,
                               logger: logger)
        try await BackendRun.run("push", common: common, logger: logger, redis: true,
                                 start: { try await push.start() }, isAssigned: { push.isAssigned },
                                 producers: { push.kafkaProducers },
                                 readyLine: { "(http://\(host):\(push.httpPort ?? port))" },
                                 services: { push.services })
    }
}
