import ArgumentParser
import ChannelProtocol
import Shared

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Mint a device token and print it alone on standard output.")

    @Option(help: "The device id the token is for.")
    var device: String

    @Option(help: "Comma-separated services the device may use; * for all.")
    var services = "*"

    @Option(help: "Comma-separated topic patterns the device may subscribe to: news.*, user.{sub}.>, demo.broadcast.")
    var topics = ""

    @Option(help: "Comma-separated patterns of the presence rooms the device may join: demo, team-7.*, {sub}.> (none by default).")
    var rooms = ""

    @Option(help: "Comma-separated patterns of the devices whose presence it may watch: user-42-*, d-7 (none by default).")
    var watch = ""

    @Option(help: "How long the token is valid: 90s, 30m, 1h, 7d.")
    var ttl = "1h"

    @Option(help: "HS256 signing secret (env CG_TOKEN_SECRET); the development secret of `gateway dev` when neither this nor --token-keys is set.")
    var secret: String?

    @Option(help: "A JSON key set (env CG_TOKEN_KEYS); the token is signed with --kid or the first key that can sign.")
    var tokenKeys: String?

    @Option(help: "The key to sign with, by kid.")
    var kid: String?

    @Option(help: "The audience the token is for.")
    var audience = TokenAuthority.defaultAudience

    func validate() throws {
        guard parseDuration(ttl) != nil else { throw ValidationError("--ttl: expected a duration like 90s, 30m, 1h or 7d") }
        guard FieldRules.isDeviceID(device) else {
            throw ValidationError("--device: 1 to 128 characters of A-Z a-z 0-9 . - _ : @")
        }
        for (option, list) in [("--topics", topics), ("--rooms", rooms), ("--watch", watch)] {
            for pattern in Self.patterns(list) {
                do { _ = try TopicPattern(pattern) } catch { throw ValidationError("\(option): \(error.message)") }
            }
        }
    }

    /// The patterns of a comma-separated option.
    static func patterns(_ list: String) -> [String] { list.split(separator: ",").map { String($0) } }

    func run() async throws {
        let keys = try TokenKeysOption.keys(file: tokenKeys ?? env("CG_TOKEN_KEYS"), secret: secret ?? env("CG_TOKEN_SECRET"))
        let authority = try await TokenAuthority(keys: keys, audience: audience)
        let list = services.split(separator: ",").map { String($0) }
        print(try await authority.mint(device: device, services: list, topics: Self.patterns(topics), rooms: Self.patterns(rooms),
                                       watch: Self.patterns(watch), ttl: parseDuration(ttl)!, kid: kid))
    }
}
