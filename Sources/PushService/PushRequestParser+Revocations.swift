import Shared

extension PushRequestParser {
    /// The admin API's revocations: `/v1/revocations` and what lies under it.
    static let revocationsPath = "/v1/revocations"

    /// The checks of an admin request, or nil when `uri` is not the admin API's (`/v1/revocations` and below; a query
    /// string is ignored). Order: path (404), method (405, with `Allow`),
    /// admin keys configured (403), admin key (401), the target in the path (400), declared `Content-Length` (413).
    /// The key comes before the target, so a caller without one learns nothing about ids. No CORS preflight: the admin
    /// API is for operators' tools, not for pages in a browser.
    public static func revocationRoute(method: String, uri: String, headers: [(name: String, value: String)],
                                       policy: PushPolicy) -> Result<RevocationRequest, PushRejection>? {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path == revocationsPath || path.hasPrefix(revocationsPath + "/") else { return nil }
        let rest = path.dropFirst(revocationsPath.count)
        var operation = RevocationRequest.Operation.list
        var lifted: (kind: String, id: Substring)?
        if rest.isEmpty || rest == "/" {
            switch method {
            case "GET": operation = .list
            case "POST": operation = .set
            default: return .failure(.methodNotAllowed(allow: "GET, POST"))
            }
        } else {
            let parts = rest.dropFirst().split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "device" || parts[0] == "key" else { return .failure(.noSuchAdminPath) }
            guard method == "DELETE" else { return .failure(.methodNotAllowed(allow: "DELETE")) }
            lifted = (String(parts[0]), parts[1])
        }
        guard !policy.adminAPIKeys.isEmpty else { return .failure(.adminDisabled) }
        guard BearerAuthorization.allows(header("authorization", in: headers), keys: policy.adminAPIKeys) else {
            return .failure(.unauthorizedForAdmin)
        }
        if let lifted {
            guard let id = percentDecoded(String(lifted.id)) else {
                return .failure(.badRequest("bad_request", "the id in the path has a malformed %-escape"))
            }
            let target: Revocation.Target = lifted.kind == "device" ? .device(id) : .key(id)
            do {
                try RevocationRules.check(target)
            } catch {
                return .failure(.badRequest(error.code, error.message))
            }
            operation = .lift(target)
        }
        if let length = header("content-length", in: headers).flatMap({ Int($0) }), length > RevocationRequest.maxBodyBytes {
            return .failure(.tooLarge(limit: RevocationRequest.maxBodyBytes))
        }
        let expects = header("expect", in: headers)?.lowercased() == "100-continue"
        return .success(RevocationRequest(operation, expectsContinue: expects))
    }
}

extension PushRejection {
    /// 405 with the methods the path takes in `Allow`.
    static func methodNotAllowed(allow: String) -> PushRejection {
        var rejection = PushRejection(status: 405, code: "method_not_allowed", message: "use \(allow)")
        rejection.allow = allow
        return rejection
    }
}
