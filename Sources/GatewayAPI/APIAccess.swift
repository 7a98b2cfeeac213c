import Shared

/// The scope each operation of docs/openapi.yaml needs (its `x-scopes`), and the key a request came with.
///
/// Guarantees: an operation not in ``required`` is refused to every key (403), so a new operation in the document is
/// closed until it is given a scope here; a unit test checks this table against the document's `x-scopes`.
public enum APIAccess {
    /// operationId → the one scope it needs; nil for the operations open to all (the document itself).
    public static let required: [String: APIScope?] = [
        "sendMessages": .send, "publishToTopic": .send,
        "getDevice": .read, "listMailbox": .read, "getReceipt": .read, "listEdges": .read, "getCluster": .read,
        "clearMailbox": .admin, "deleteMailboxMessage": .admin, "disconnectDevice": .admin, "drainEdge": .admin,
        "getOpenAPIDocument": APIScope?.none,
    ]

    /// The key of the request being handled, set by ``AccessMiddleware`` once it has checked it.
    @TaskLocal static var caller: APIKey?

    /// What a request with `authorization` (the header's value) may do for `operation`.
    public enum Decision: Equatable {
        case allowed(APIKey?)
        /// 401: no key, or not one of ours.
        case unauthorized
        /// 403: a valid key without `needs`; or an operation no scope opens (`needs` nil).
        case forbidden(needs: APIScope?)
    }

    public static func decide(operation: String, authorization: String?, keys: [APIKey]) -> Decision {
        guard let entry = required[operation] else { return .forbidden(needs: nil) }
        guard let scope = entry else { return .allowed(nil) }
        guard let key = match(authorization, keys: keys) else { return .unauthorized }
        return key.scopes.contains(scope) ? .allowed(key) : .forbidden(needs: scope)
    }

    /// The key `authorization` (`Bearer <secret>`) presents. Every key is compared over its whole length, so the time
    /// taken does not tell how much of a secret a caller guessed.
    static func match(_ authorization: String?, keys: [APIKey]) -> APIKey? {
        guard let offered = Secrets.bearer(authorization) else { return nil }
        var found: APIKey?
        for key in keys where Secrets.same(offered, key.secret) { found = key }
        return found
    }
}
