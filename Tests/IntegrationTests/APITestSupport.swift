import DevCluster
import Foundation
import Testing

/// Calls `gateway api` of the shared test cluster (docs/api.md) with one of its keys.
enum API {
    static var url: String {
        get async throws { try #require(try await TestCluster.shared.apiURL) }
    }

    /// One request on a connection of its own; `key` nil sends no Authorization header.
    static func call(_ method: String, _ path: String, key: String? = TestCluster.apiAllKey, json: String? = nil,
                     headers: [(String, String)] = []) async throws -> HTTPReply {
        var all = headers
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        if json != nil { all.append(("Content-Type", "application/json")) }
        return try await HTTPTestClient.send(try await url, method, path, headers: all, body: Array((json ?? "").utf8))
    }

    static func object(_ reply: HTTPReply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any], "\(reply.status) \(reply.text)")
    }

    /// The error code of an error answer, checking it has the documented shape.
    static func error(_ reply: HTTPReply) throws -> String? {
        let body = try object(reply)
        #expect(body["message"] is String)
        return body["error"] as? String
    }

    /// The `messages` of a 201 send answer as (device, id).
    static func sent(_ reply: HTTPReply) throws -> [(device: String, id: String)] {
        #expect(reply.status == 201, "\(reply.text)")
        let messages = try #require(try object(reply)["messages"] as? [[String: Any]])
        return try messages.map { (try #require($0["device"] as? String), try #require($0["id"] as? String)) }
    }

    /// A send body as JSON text.
    static func sendBody(service: String = "echo", devices: [String], body: String? = #"{"text":"hi"}"#, extra: String = "") -> String {
        let list = devices.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"service":"\#(service)","devices":[\#(list)]\#(body.map { #","body":\#($0)"# } ?? "")\#(extra)}"#
    }
}
