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

    @Option(help: "How long the token is valid: 90s, 30m, 1h, 7d.")
    var ttl = "1h"

    @Option(help: "Signing secret (env CG_TOKEN_SECRET); the development secret of `gateway dev` when unset.")
    var secret: String = env("CG_TOKEN_SECRET") ?? TokenAuthority.developmentSecret

    func validate() throws {
        guard parseDuration(ttl) != nil else { throw ValidationError("--ttl: expected a duration like 90s, 30m, 1h or 7d") }
        guard FieldRules.isDeviceID(device) else {
            throw ValidationError("--device: 1 to 128 characters of A-Z a-z 0-9 . - _ : @")
        }
    }

    func run() async throws {
        let authority = try await TokenAuthority(secret: secret)
        let list = services.split(separator: ",").map { String($0) }
        print(try await authority.mint(device: device, services: list, ttl: parseDuration(ttl)!))
    }
}
