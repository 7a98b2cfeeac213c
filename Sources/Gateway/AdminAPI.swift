import APIContract
import Foundation
import HTTPTypes
import NIOConcurrencyHelpers
import OpenAPIURLSession
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The HTTP API as `gateway admin` calls it: the client generated from docs/openapi.yaml over URLSession, with the key
/// sent as `Authorization: Bearer` and each answer's status and raw body kept, so `--json` prints the API's JSON as it
/// came and an error prints the API's own code and message.
///
/// Guarantees: ``call(_:)`` returns the typed answer of a 2xx; any other status throws ``Failure/api`` with the API's
/// error code and message, and a connection that cannot be made throws ``Failure/unreachable``.
struct AdminAPI: Sendable {
    let client: Client
    let serverURL: URL
    private let last: LastAnswer

    /// Why a call did not give an answer to print.
    enum Failure: Error, CustomStringConvertible {
        /// The API answered with an error: its status, `error` code and `message`.
        case api(status: Int, code: String, message: String)
        /// No answer: the address is wrong, nothing listens there, or the connection broke.
        case unreachable(String)
        /// A 2xx whose body is not what docs/openapi.yaml says.
        case unexpected(String)

        var description: String {
            switch self {
            case .api(let status, let code, let message): "error: \(code): \(message) (HTTP \(status))"
            case .unreachable(let detail): "error: cannot reach the API: \(detail)"
            case .unexpected(let detail): "error: the API's answer does not match docs/openapi.yaml: \(detail)"
            }
        }
    }

    /// - Parameters:
    ///   - url: The API's base address, as `http://127.0.0.1:8095`.
    ///   - key: The bearer key; nil sends none (the API then answers 401).
    init(url: URL, key: String?) {
        last = LastAnswer()
        serverURL = url
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        client = Client(serverURL: url, transport: URLSessionTransport(configuration: .init(session: URLSession(configuration: configuration))),
                        middlewares: [Answers(key: key, last: last)])
    }

    /// The raw body of the last answer, as the API sent it.
    var lastBody: [UInt8] { last.value.withLockedValue { $0.body } }

    /// Runs one operation; returns its output when the status is 2xx.
    func call<Output: Sendable>(_ operation: (Client) async throws -> Output) async throws(Failure) -> Output {
        let output: Output
        do {
            output = try await operation(client)
        } catch let error as ClientError where error.response != nil {
            let (status, body) = last.value.withLockedValue { ($0.status, $0.body) }
            guard (200..<300).contains(status) else { throw Self.failure(status: status, body: body) }
            throw .unexpected("\(error.underlyingError)")
        } catch let error as ClientError {
            throw .unreachable("\(serverURL): \(Self.describe(error.underlyingError))")
        } catch {
            throw .unreachable("\(serverURL): \(Self.describe(error))")
        }
        let (status, body) = last.value.withLockedValue { ($0.status, $0.body) }
        guard (200..<300).contains(status) else { throw Self.failure(status: status, body: body) }
        return output
    }

    /// A transport error in one line (URLSession's errors carry their text in the NSError's description).
    static func describe(_ error: any Error) -> String {
        let error = error as NSError
        return error.domain == NSURLErrorDomain ? error.localizedDescription : "\(error)"
    }

    /// The API's `{"error","message"}`, or the status and the start of whatever else came.
    static func failure(status: Int, body: [UInt8]) -> Failure {
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
           let code = object["error"] as? String, let message = object["message"] as? String {
            return .api(status: status, code: code, message: message)
        }
        return .api(status: status, code: "http_\(status)", message: String(decoding: body.prefix(200), as: UTF8.self))
    }

    /// The status and body of the last answer (one command makes one call at a time).
    final class LastAnswer: Sendable {
        let value = NIOLockedValueBox<(status: Int, body: [UInt8])>((0, []))
    }

    /// Adds the key and keeps a copy of each answer's body (bodies are small JSON; 8 MiB at most is read).
    struct Answers: ClientMiddleware {
        let key: String?
        let last: LastAnswer

        func intercept(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
                       next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?))
            async throws -> (HTTPResponse, HTTPBody?) {
            var request = request
            if let key { request.headerFields[.authorization] = "Bearer \(key)" }
            let (response, responseBody) = try await next(request, body, baseURL)
            let bytes: [UInt8] = if let responseBody { try await [UInt8](collecting: responseBody, upTo: 8 << 20) } else { [] }
            last.value.withLockedValue { $0 = (response.status.code, bytes) }
            return (response, HTTPBody(bytes))
        }
    }
}
