import Hummingbird
import HTTPTypes
import NIOCore

/// Runs before routing, for every request: refuses a body longer than the limit with 413 `too_large` (by its
/// Content-Length, before reading any of it; a chunked body is read only up to the limit), and gives the
/// framework's own errors (an unknown path: 404) the API's JSON error body.
///
/// Guarantees: no request makes the server hold more than `maxBodyBytes` of body. After a 413 the server reads the
/// rest of that body and drops it as it arrives (Hummingbird does, to keep the connection usable), so the connection
/// then serves the next request.
struct RequestGuard<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int
    let metrics: APIMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        if let length = request.headers[.contentLength].flatMap({ Int($0) }) {
            if length > maxBodyBytes { return tooLarge() }
        } else {
            // Chunked, or no body at all (HTTP/1.1 names neither; the Transfer-Encoding header does not reach us): read
            // up to the limit and pass the body on with its length, so that an empty one is no body (disconnect's is
            // optional) and the generated code sees a known size.
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBodyBytes)
            } catch is NIOTooManyBytesError {
                return tooLarge()
            }
            var head = request.head
            head.headerFields[.contentLength] = String(body.readableBytes)
            request = Request(head: head, body: .init(buffer: body))
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let (code, message) = error.status == .notFound
                ? ("not_found", "no such path: \(request.method) \(request.uri.path.prefix(200)) (see /openapi.yaml)")
                : (error.status == .methodNotAllowed ? "method_not_allowed" : "bad_request", error.body ?? error.status.reasonPhrase)
            if error.status == .notFound { metrics.answered(operation: "unknown", status: 404) }
            return Self.json(error.status, code, message)
        }
    }

    private func tooLarge() -> Response {
        metrics.answered(operation: "unknown", status: 413)
        return Self.json(.contentTooLarge, "too_large", "the body may be at most \(maxBodyBytes) bytes")
    }

    static func json(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: ErrorJSON.bytes(code, message))))
    }
}
