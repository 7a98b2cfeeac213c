import ArgumentParser
import Foundation
import Infrastructure
import Lifecycle
import PushService
import Shared

/// `gateway revoke`: stops device tokens before they expire, by writing the revocations every edge follows
/// (docs/operations.md, "Revoking tokens"). Edges close the matching connections within a second and refuse matching
/// hellos and refreshes.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke device tokens (a device's, a device's issued before a time, or a key's), list and lift revocations.",
        discussion: """
            Edges close the connections a new rule stops within a second (close 4009) and refuse its tokens at hello \
            and refresh. Exit status: 0 done; 1 nothing to lift; 64 bad arguments; 69 Redis unreachable or failing.
            """,
        subcommands: [Device.self, Key.self, List.self, Lift.self])

    /// Exit status when Redis cannot be reached or fails (EX_UNAVAILABLE).
    static let redisFailed = ExitCode(69)
    /// Exit status of a lift that found no rule.
    static let nothingLifted = ExitCode(1)

    struct Device: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse a device's tokens: every one until lifted, or those issued at or before --issued-before.")

        @Argument(help: "The device id.")
        var id: String

        @Option(help: ArgumentHelp("Only tokens issued at or before this time: now, Unix seconds or ISO-8601 (2026-12-06T08:00:00Z). Without it every token of the device is refused, new ones too.",
                                   valueName: "time"))
        var issuedBefore: String?

        @OptionGroup var rule: RuleOptions
        @OptionGroup var common: CommonOptions

        func validate() throws { _ = try revocation(now: RevocationText.now) }

        func revocation(now: Int64) throws -> Revocation {
            let issued = try issuedBefore.map { try RevocationText.time($0, now: now, flag: "--issued-before") }
            return try rule.revocation(.device(id), issuedBefore: issued, now: now)
        }

        func run() async throws {
            try await RevokeCommand.set(try revocation(now: RevocationText.now), common: common)
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse every token signed with a key (by kid), for an emergency key rotation.")

        @Argument(help: "The key's kid, as in the edges' key set.")
        var kid: String

        @OptionGroup var rule: RuleOptions
        @OptionGroup var common: CommonOptions

        func validate() throws { _ = try rule.revocation(.key(kid), issuedBefore: nil, now: RevocationText.now) }

        func run() async throws {
            try await RevokeCommand.set(try rule.revocation(.key(kid), issuedBefore: nil, now: RevocationText.now), common: common)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the revocations, lapsed ones marked.")

        @Flag(help: "Print JSON, as the push service's GET /v1/revocations answers.")
        var json = false

        @OptionGroup var common: CommonOptions

        func run() async throws {
            guard try !RevokeCommand.printedConfig(common) else { return }
            let rules = try await RevokeCommand.withStore(common) { try await $0.all() }
            let now = RevocationText.now
            Console.say(json ? RevocationJSON.list(rules, now: now).text : RevocationText.table(rules, now: now))
        }
    }

    struct Lift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift a revocation (lift device ID, lift key KID): the device's or key's tokens are accepted again.")

        enum Kind: String, ExpressibleByArgument, CaseIterable {
            case device, key
        }

        @Argument(help: "What the rule revokes: device or key.")
        var kind: Kind

        @Argument(help: "The device id, or the key's kid.")
        var id: String

        @OptionGroup var common: CommonOptions

        var target: Revocation.Target { kind == .device ? .device(id) : .key(id) }

        func validate() throws {
            do { try RevocationRules.check(target) } catch { throw RevokeCommand.usage(error) }
        }

        func run() async throws { try await RevokeCommand.lift(target, common: common) }
    }

    /// `--for` and `--reason`, shared by the commands that set a rule.
    struct RuleOptions: ParsableArguments {
        @Option(name: .customLong("for"),
                help: ArgumentHelp("Let the rule lapse after this long: 90s, 30m, 12h, 7d. Without it the rule stays until lifted.",
                                   valueName: "duration"))
        var lasting: String?

        @Option(help: "Why, for operators (shown by `gateway revoke list`; never to devices); one line, at most 256 bytes.")
        var reason = ""

        /// The rule for `target`, created `now`, checked as the admin API checks it.
        func revocation(_ target: Revocation.Target, issuedBefore: Int64?, now: Int64) throws -> Revocation {
            var until: Int64?
            if let lasting {
                guard let duration = parseDuration(lasting) else {
                    throw ValidationError("--for: expected a duration like 90s, 30m, 12h or 7d")
                }
                until = now + duration.components.seconds
            }
            let rule = Revocation(target: target, issuedBefore: issuedBefore, until: until, reason: reason, createdAt: now)
            do {
                try RevocationRules.check(rule, now: now)
            } catch {
                throw RevokeCommand.usage(error)
            }
            return rule
        }
    }

    /// A broken rule as a usage error naming what to fix.
    static func usage(_ problem: RevocationProblem) -> ValidationError {
        let subject = switch problem.code {
        case "bad_device": "device id"
        case "bad_kid": "kid"
        case "bad_issued_before": "--issued-before"
        case "bad_until": "--for"
        default: "--reason"
        }
        return ValidationError("\(subject): \(problem.message)")
    }

    static func set(_ rule: Revocation, common: CommonOptions) async throws {
        guard try !printedConfig(common) else { return }
        let previous = try await withStore(common) { store in
            let previous = try await store.all().first { $0.target == rule.target }
            try await store.set(rule)
            return previous
        }
        Console.say("revoked \(RevocationText.describe(rule, now: rule.createdAt))")
        if let previous {
            Console.say("it replaces the rule set \(RevocationText.time(previous.createdAt)): "
                        + RevocationText.describe(previous, now: rule.createdAt))
        }
        Console.say("edges close the connections it stops within a second; lift it with: gateway revoke lift \(rule.target)")
    }

    static func lift(_ target: Revocation.Target, common: CommonOptions) async throws {
        guard try !printedConfig(common) else { return }
        guard try await withStore(common, { try await $0.lift(target) }) else {
            RevocationText.complain("no revocation of \(target) is in force; nothing lifted")
            throw nothingLifted
        }
        Console.say("lifted the revocation of \(target): its tokens are accepted again")
    }

    /// Runs `body` on the revocations of `common`'s Redis, checked reachable first and closed after. A Redis failure is
    /// printed on standard error and ends the command with ``redisFailed``.
    static func withStore<T: Sendable>(_ common: CommonOptions, _ body: (RevocationStore) async throws -> T) async throws -> T {
        let redis = try common.redisSettings().connect(logger: common.logger("revoke"))
        defer { redis.close() }
        do {
            try await offload("redis check") { try redis.checkReachable() }
            return try await body(RevocationStore(redis: redis, keys: RedisKeys(prefix: common.prefix)))
        } catch {
            RevocationText.complain("error: \(error)")
            throw redisFailed
        }
    }

    /// With `--print-config`: prints the Redis settings the command would use and returns true.
    static func printedConfig(_ common: CommonOptions) throws -> Bool {
        guard common.printConfig else { return false }
        try EffectiveConfig.print(EffectiveConfig.common(common, kafka: try common.kafkaConfig(), redis: try common.redisSettings()))
        return true
    }
}
