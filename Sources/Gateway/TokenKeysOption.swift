import ArgumentParser
import Shared

/// How `--token-keys` and `--token-secret` become the key set of the edge and of `gateway token`.
enum TokenKeysOption {
    /// A key set file wins; else one HS256 secret; else the development key.
    static func keys(file: String?, secret: String?) throws -> [TokenKey] {
        if let file {
            do { return try TokenKey.load(file: file) } catch { throw ValidationError(error.message) }
        }
        if let secret {
            guard secret.utf8.count >= 32 else { throw ValidationError("--token-secret: at least 32 bytes") }
            return [TokenKey(kid: "default", material: .hs256(secret: secret))]
        }
        return [.development]
    }
}
