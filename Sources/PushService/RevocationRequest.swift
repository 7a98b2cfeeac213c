import Foundation
import Shared

/// A request to the admin API's revocations (`/v1/revocations`, docs/push.md) whose head passed every check: the
/// caller holds an admin key, and a lift's target is well formed.
public struct RevocationRequest: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// `GET /v1/revocations`
        case list
        /// `POST /v1/revocations`, the rule in the body
        case set
        /// `DELETE /v1/revocations/device/{id}` or `/v1/revocations/key/{kid}`
        case lift(Revocation.Target)
    }

    public var operation: Operation
    /// The client sent `Expect: 100-continue` and waits for a `100 Continue` before sending the body.
    public var expectsContinue: Bool

    /// The largest body read: a rule is a few hundred bytes, whatever `--max-payload-bytes` allows pushes.
    public static let maxBodyBytes = 4096

    public init(_ operation: Operation, expectsContinue: Bool = false) {
        self.operation = operation
        self.expectsContinue = expectsContinue
    }

    /// The rule a `POST /v1/revocations` body asks for, created at `now` (Unix seconds): `{"device":"d-1",
    /// "issuedBefore":1733472000,"until":1733558400,"reason":"stolen"}` or `{"kid":"k1","until":…,"reason":…}`; every
    /// field but the target may be left out or null. Unknown fields are refused, so a misspelt `issuedBefore` cannot
    /// silently widen a rule to every token of a device.
    public static func rule(from body: [UInt8], now: Int64) -> Result<Revocation, PushRejection> {
        let input: Input
        do {
            input = try JSONDecoder().decode(Input.self, from: Data(body))
        } catch let problem as RevocationProblem {
            return .failure(.badRequest(problem.code, problem.message))
        } catch let error as DecodingError where !Self.path(of: error).isEmpty {
            let path = Self.path(of: error)
            return .failure(.badRequest("bad_request", "\(path.map(\.stringValue).joined(separator: ".")): \(Input.expected(path))"))
        } catch {
            return .failure(.badRequest("bad_request",
                                        #"the body must be one JSON object: {"device":"<id>",…} or {"kid":"<kid>",…}"#))
        }
        let target: Revocation.Target
        switch (input.device, input.kid) {
        case (let device?, nil): target = .device(device)
        case (nil, let kid?): target = .key(kid)
        default:
            return .failure(.badRequest("bad_target", #"name exactly one target: "device" or "kid""#))
        }
        let rule = Revocation(target: target, issuedBefore: input.issuedBefore, until: input.until,
                              reason: input.reason ?? "", createdAt: now)
        do {
            try RevocationRules.check(rule, now: now)
        } catch {
            return .failure(.badRequest(error.code, error.message))
        }
        return .success(rule)
    }

    /// Where in the body a decoding error is (empty: the body as a whole).
    private static func path(of error: DecodingError) -> [any CodingKey] {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath
        @unknown default: []
        }
    }

    /// The body's fields, each of its JSON type; anything else is refused.
    private struct Input: Decodable {
        var device: String?
        var kid: String?
        var issuedBefore: Int64?
        var until: Int64?
        var reason: String?

        private struct Field: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        static let fields = ["device", "kid", "issuedBefore", "until", "reason"]

        static func expected(_ path: [any CodingKey]) -> String {
            ["issuedBefore", "until"].contains(path.first?.stringValue ?? "") ? "expected an integer (Unix seconds)" : "expected a string"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Field.self)
            if let unknown = c.allKeys.first(where: { !Self.fields.contains($0.stringValue) }) {
                throw RevocationProblem("bad_request",
                                        "unknown field \"\(unknown.stringValue)\" (known: \(Self.fields.joined(separator: ", ")))")
            }
            device = try c.decodeIfPresent(String.self, forKey: Field(stringValue: "device"))
            kid = try c.decodeIfPresent(String.self, forKey: Field(stringValue: "kid"))
            issuedBefore = try c.decodeIfPresent(Int64.self, forKey: Field(stringValue: "issuedBefore"))
            until = try c.decodeIfPresent(Int64.self, forKey: Field(stringValue: "until"))
            reason = try c.decodeIfPresent(String.self, forKey: Field(stringValue: "reason"))
        }
    }
}
