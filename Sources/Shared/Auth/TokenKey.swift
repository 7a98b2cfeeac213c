import Foundation

/// One key that signs or verifies device tokens, named by its `kid` so several can be trusted at once (rotation).
///
/// HS256 keys are shared secrets (at least 32 bytes); ES256 keys are P-256 key pairs in PEM, where an edge needs only
/// the public half and whoever mints tokens needs the private one.
public struct TokenKey: Sendable, Equatable {
    public enum Material: Sendable, Equatable {
        case hs256(secret: String)
        case es256(publicKeyPEM: String?, privateKeyPEM: String?)
    }

    public var kid: String
    public var material: Material

    public init(kid: String, material: Material) {
        self.kid = kid
        self.material = material
    }

    /// The key `gateway dev` and local defaults use; never trust it outside development.
    public static let development = TokenKey(kid: "dev", material: .hs256(secret: TokenAuthority.developmentSecret))

    /// Reads a key set file: `{"keys":[{"kid":"k1","alg":"HS256","secret":"…"},
    /// {"kid":"k2","alg":"ES256","publicKeyFile":"pub.pem","privateKeyFile":"key.pem"}]}`, with paths relative to the
    /// file. The first key is the one new tokens are signed with by default.
    /// - Throws: ``TokenError`` naming what is wrong, never quoting a secret.
    public static func load(file path: String) throws(TokenError) -> [TokenKey] {
        struct Entry: Decodable {
            var kid: String
            var alg: String
            var secret: String?
            var publicKeyFile: String?
            var privateKeyFile: String?
        }
        struct KeySet: Decodable { var keys: [Entry] }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func read(_ file: String) throws(TokenError) -> String {
            let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : base.appendingPathComponent(file)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw TokenError(message: "token key file \(path): cannot read \(url.path)")
            }
            return text
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenError(message: "token key file \(path): cannot read it")
        }
        guard let set = try? JSONDecoder().decode(KeySet.self, from: data), !set.keys.isEmpty else {
            throw TokenError(message: "token key file \(path): expected {\"keys\":[{\"kid\":…,\"alg\":\"HS256\"|\"ES256\",…}]}")
        }
        var keys: [TokenKey] = []
        for entry in set.keys {
            switch entry.alg {
            case "HS256":
                guard let secret = entry.secret else { throw TokenError(message: "token key \(entry.kid): HS256 needs \"secret\"") }
                keys.append(TokenKey(kid: entry.kid, material: .hs256(secret: secret)))
            case "ES256":
                guard entry.publicKeyFile != nil || entry.privateKeyFile != nil else {
                    throw TokenError(message: "token key \(entry.kid): ES256 needs \"publicKeyFile\" or \"privateKeyFile\"")
                }
                keys.append(TokenKey(kid: entry.kid, material: .es256(
                    publicKeyPEM: try entry.publicKeyFile.map(read), privateKeyPEM: try entry.privateKeyFile.map(read))))
            default:
                throw TokenError(message: "token key \(entry.kid): algorithm \(entry.alg) is not supported (HS256, ES256)")
            }
        }
        guard Set(keys.map(\.kid)).count == keys.count else { throw TokenError(message: "token key file \(path): kids must be unique") }
        return keys
    }
}
