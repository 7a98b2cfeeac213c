import APIContract
import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime

/// Runs around every operation of the document: checks the key against the operation's scope (``APIAccess``), turns a
/// request the generated code could not read (malformed JSON, a missing field, a bad parameter) into 400
/// `bad_request`, and counts each answer by operation and status.
///
/// Guarantees: a handler runs only for a request whose key has the operation's scope, with ``APIAccess/caller`` set
/// to that key; every answer has the error body of docs/api.md; secrets are never logged (only fingerprints).
struct AccessMiddleware: ServerMiddleware {
    let keys: [APIKey]
    let metrics: APIMetrics
    let logger: Logger

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        let answer: (HTTPResponse, HTTPBody?)
        switch APIAccess.decide(operation: operationID, authorization: request.headerFields[.authorization], keys: keys) {
        case .unauthorized:
            answer = Self.error(.unauthorized, "unauthorized", "send Authorization: Bearer <key> with a key this server was given")
        case .forbidden(let needs):
            answer = Self.error(.forbidden, "forbidden",
                                needs.map { "this operation needs a key with scope \($0.rawValue)" } ?? "no key may use this operation")
        case .allowed(let key):
            do {
                // An empty body is no body: a POST without one (disconnect's is optional) is not malformed JSON.
                let body = body?.length == .known(0) ? nil : body
                answer = try await APIAccess.$caller.withValue(key) { try await next(request, body, metadata) }
            } catch let error as ServerError {
                // The handlers answer every failure themselves; what is thrown is the generated code refusing the request.
                answer = Self.error(.badRequest, "bad_request", Self.reason(error))
            }
        }
        metrics.answered(operation: operationID, status: answer.0.status.code)
        return answer
    }

    /// The error body with `status`, as every error of the API is written.
    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> (HTTPResponse, HTTPBody?) {
        var response = HTTPResponse(status: status)
        response.headerFields[.contentType] = "application/json; charset=utf-8"
        return (response, HTTPBody(ErrorJSON.bytes(code, message)))
    }

    /// What was wrong with the request, in a line: the decoding error's own words when it has some.
    static func reason(_ error: ServerError) -> String {
        let underlying = error.underlyingError
        if let decoding = underlying as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context): return "the body is not valid JSON: \(context.debugDescription)"
            case .keyNotFound(let key, _): return "the body lacks field \(key.stringValue)"
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                // A parameter's decoder has no coding path, and the runtime does not say which failed: show the query.
                guard !context.codingPath.isEmpty else {
                    return "a path or query parameter is not of the type the document gives it (query: \(error.request.path?.split(separator: "?", maxSplits: 1).dropFirst().first?.prefix(200) ?? "none"))"
                }
                return "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
            @unknown default: return "the body does not match the API document"
            }
        }
        return "\(error.causeDescription): \(String(describing: underlying).prefix(200))"
    }
}

/// `{"error":"<code>","message":"<text>"}` as bytes, for answers written outside the generated code.
enum ErrorJSON {
    static func bytes(_ code: String, _ message: String) -> [UInt8] {
        Array((try? JSONEncoder().encode(Components.Schemas._Error(error: code, message: message))) ?? Data())
    }
}
