import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Polls an admin endpoint until it answers a status.
enum AdminProbe {
    static func waitFor(_ url: String, status: Int, within seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var last = 0
        var body = ""
        while Date() < deadline {
            if let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) {
                last = (response as? HTTPURLResponse)?.statusCode ?? 0
                body = String(decoding: data, as: UTF8.self)
                if last == status { return }
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("\(url) answered \(last) (\(body.trimmingCharacters(in: .whitespacesAndNewlines))), not \(status), within \(seconds) s")
    }

    /// The status and body an endpoint answers now, or nil when it does not answer.
    static func get(_ url: String) async -> (status: Int, body: String)? {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return nil }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
