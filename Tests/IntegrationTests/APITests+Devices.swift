import ChannelClient
import Foundation
import Testing

/// `GET /v1/devices/{device}` of `gateway api` against the shared cluster: online with its edge and session while
/// connected, offline with the mailbox's depth after, and a device never seen is offline, not an error.
@Suite(.timeLimit(.minutes(3)))
struct APIDeviceTests {
    @Test func statusIsOnlineWhileConnectedAndOfflineWithTheMailboxDepthAfter() async throws {
        let name = TestCluster.uniqueDevice("api-status")
        let device = try await TestCluster.connect(name, edge: 1)
        let online = try API.object(try await API.call("GET", "/v1/devices/\(name)", key: TestCluster.apiReadKey))
        #expect(online["device"] as? String == name && online["online"] as? Bool == true)
        #expect(online["edge"] as? String == "edge-2")
        #expect((online["session"] as? String)?.isEmpty == false)
        let since = try #require(online["since"] as? Int)
        #expect(abs(Double(since) / 1000 - Date().timeIntervalSince1970) < 120)
        await device.close()

        // Offline now; two messages wait in its mailbox.
        let deadline = ContinuousClock.now + .seconds(10)
        var status: [String: Any] = [:]
        repeat {
            status = try API.object(try await API.call("GET", "/v1/devices/\(name)", key: TestCluster.apiReadKey))
            if status["online"] as? Bool == false { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        #expect(status["online"] as? Bool == false && status["edge"] == nil && status["session"] == nil)
        let body = #""waiting""#
        _ = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], body: body)))
        _ = try API.sent(try await API.call("POST", "/v1/messages", json: API.sendBody(devices: [name], body: body)))
        var mailbox: [String: Any] = [:]
        repeat {  // the router stores them a moment after the 201
            let status = try API.object(try await API.call("GET", "/v1/devices/\(name)", key: TestCluster.apiReadKey))
            mailbox = try #require(status["mailbox"] as? [String: Any])
            if mailbox["count"] as? Int == 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline + .seconds(10)
        #expect(mailbox["count"] as? Int == 2)
        #expect((mailbox["bytes"] as? Int ?? 0) >= 2 * body.utf8.count)
    }

    @Test func aDeviceNeverSeenIsOfflineWithAnEmptyMailbox() async throws {
        let name = TestCluster.uniqueDevice("api-never")
        let reply = try await API.call("GET", "/v1/devices/\(name)", key: TestCluster.apiReadKey)
        #expect(reply.status == 200)
        let status = try API.object(reply)
        #expect(status["online"] as? Bool == false)
        let mailbox = try #require(status["mailbox"] as? [String: Any])
        #expect(mailbox["count"] as? Int == 0 && mailbox["bytes"] as? Int == 0)
    }
}
