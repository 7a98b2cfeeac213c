import Admin
import ChannelProtocol
import Foundation
import NIOCore
import NIOHTTP1
import Shared

/// What the demo page needs to know about the local cluster, served as JSON at `/demo/config`.
struct DemoConfig: Codable, Sendable {
    /// The edges' WebSocket URLs; the page connects to one of them and moves on when it goes.
    var edges: [String]
    /// The push service's HTTP base URL, if it runs.
    var push: String?
    /// The services the edges offer.
    var services: [String]
    /// The push service's API key for `POST /v1/topics/{topic}`, so that the page's broadcast button can publish.
    /// A key made up for this `gateway dev` run; handing it to a page is only acceptable in development.
    var topicKey: String?
    /// The HTTP API's base URL, if it runs, and its development key (every scope), for the page's device status link.
    /// Handing a key to a page is only acceptable in development, as for ``topicKey``.
    var api: String?
    var apiKey: String?
}

/// The demo's web server, run by `gateway dev` only: the page and the JavaScript client (``DemoSite``), the cluster's
/// addresses (`/demo/config`) and development tokens (`/demo/token?device=<id>`, signed with the development key
/// every `gateway dev` edge accepts, valid for an hour, for any service, the topics in ``topics`` and the presence
/// room in ``rooms``: the page joins room `demo` and watches nobody, so its tokens open that room and no device).
///
/// Guarantees: serves only the site's fixed files; a device id outside the protocol's rule gets 400; every answer runs
/// off the event loop (``SimpleHTTPServer``).
enum DemoServer {
    /// The presence rooms of the demo's tokens (`rooms`, docs/presence.md): the page's `ROOM` (clients/js/demo/demo.js).
    static let rooms = ["demo"]
    /// The topic patterns of the demo's tokens: the broadcast panel's topic, and the topic of its presence room.
    static let topics = ["demo.broadcast"] + rooms.map { "presence.room.\($0)" }

    /// Starts serving; close the returned server to stop.
    static func start(host: String, port: Int, site: DemoSite, config: DemoConfig) async throws -> SimpleHTTPServer {
        let tokens = try await TokenAuthority(keys: [.development])
        let configJSON = Array(try JSONEncoder().encode(config))
        return try await SimpleHTTPServer.start(host: host, port: port) { head in
            var response = await answer(head, site: site, configJSON: configJSON, tokens: tokens)
            response.headers.append(("Cache-Control", "no-store"))
            return response
        }
    }

    private static func answer(_ head: HTTPRequestHead, site: DemoSite, configJSON: [UInt8],
                               tokens: TokenAuthority) async -> SimpleHTTPResponse {
        guard head.method == .GET || head.method == .HEAD else {
            return SimpleHTTPResponse(.methodNotAllowed, "text/plain", Array("GET only\n".utf8))
        }
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? "/"
        if let file = site.files[path] {
            return SimpleHTTPResponse(.ok, file.contentType, file.bytes)
        }
        switch path {
        case "/demo/config":
            return SimpleHTTPResponse(.ok, "application/json", configJSON)
        case "/demo/token":
            let device = parts.count > 1 ? queryValue("device", in: String(parts[1])) : nil
            guard let device, FieldRules.isDeviceID(device) else {
                return SimpleHTTPResponse(.badRequest, "application/json",
                                          Array(#"{"error":"bad_request","message":"device: 1-128 characters of A-Z a-z 0-9 . - _ : @"}"#.utf8))
            }
            do {
                let token = try await tokens.mint(device: device, services: ["*"], topics: topics, rooms: rooms, ttl: .seconds(3600))
                let body = (try? JSONEncoder().encode(["device": device, "token": token])).map(Array.init) ?? []
                return SimpleHTTPResponse(.ok, "application/json", body)
            } catch {
                return SimpleHTTPResponse(.internalServerError, "text/plain", Array("cannot mint a token: \(error)\n".utf8))
            }
        default:
            return SimpleHTTPResponse(.notFound, "text/plain", Array("not found\n".utf8))
        }
    }

    /// The percent-decoded value of `name` in a query string.
    static func queryValue(_ name: String, in query: String) -> String? {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2, kv[0] == name { return String(kv[1]).removingPercentEncoding }
        }
        return nil
    }
}
