import APIContract

/// The error bodies of the API, `{"error":"<code>","message":"<text>"}` (docs/api.md, "Errors"), one builder per
/// response of the document so that a handler cannot answer a status with another status's code.
enum APIError {
    static func body(_ code: String, _ message: String) -> Components.Schemas._Error { .init(error: code, message: message) }
}

extension Components.Responses.BadRequest {
    static func because(_ message: String) -> Self { .init(body: .json(APIError.body("bad_request", message))) }
}

extension Components.Responses.NotFound {
    static func because(_ message: String, code: String = "not_found") -> Self { .init(body: .json(APIError.body(code, message))) }
}

extension Components.Responses.Unavailable {
    /// `unavailable`: Redis or Kafka failed; the caller may retry after `retryAfter` seconds.
    static func failed(_ what: String, retryAfter: Int = 2) -> Self {
        .init(headers: .init(retryAfter: retryAfter), body: .json(APIError.body("unavailable", "\(what); retry after \(retryAfter) s")))
    }
}
