import Foundation
import PushService
import Testing

/// The responses of the HTTP API as written: CORS on every one, JSON error bodies, the 201's headers.
struct PushResponseTests {
    func header(_ response: PushResponse, _ name: String) -> String? {
        response.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    @Test func createdSaysWhereAndForHowLong() throws {
        let response = PushResponse.created(messageID: "m1", ttlSeconds: 30).final(corsOrigin: "*", keepAlive: true)
        #expect(response.status == 201)
        #expect(header(response, "Location") == "/v1/push/messages/m1")
        #expect(header(response, "TTL") == "30")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"id":"m1","ttl":30}"#)
        #expect(header(response, "Content-Length") == String(response.body.count))
        #expect(header(response, "Connection") == nil && !response.closesConnection)
    }

    @Test func everyResponseHasCORS() {
        for response in [PushResponse.preflight, .created(messageID: "m", ttlSeconds: 1), .error(.notFound), .error(.gone)] {
            let final = response.final(corsOrigin: "https://app.example", keepAlive: true)
            #expect(header(final, "Access-Control-Allow-Origin") == "https://app.example")
            #expect(header(final, "Access-Control-Expose-Headers")?.contains("Location") == true)
            #expect(header(final, "Access-Control-Expose-Headers")?.contains("TTL") == true)
            #expect(header(final, "Vary") == "Origin")
        }
        #expect(header(PushResponse.preflight.final(corsOrigin: "*", keepAlive: true), "Vary") == nil)
        let preflight = PushResponse.preflight
        #expect(preflight.status == 204)
        #expect(header(preflight, "Access-Control-Allow-Methods") == "POST")
        #expect(header(preflight, "Access-Control-Allow-Headers") == "TTL, Urgency, Topic, Content-Type, Authorization")
    }

    @Test func errorsAreJSONWithTheirExtraHeaders() throws {
        let limited = PushResponse.error(.rateLimited(retryAfter: 17, limit: 5))
        #expect(limited.status == 429 && header(limited, "Retry-After") == "17")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(limited.body)) as? [String: String])
        #expect(body["error"] == "rate_limited" && body["message"]?.isEmpty == false)
        #expect(header(.error(.unavailable("Kafka")), "Retry-After") == "5")
        #expect(header(.error(.methodNotAllowed), "Allow") == "POST, OPTIONS")
        let tooLarge = PushResponse.error(.tooLarge(limit: 10)).final(corsOrigin: "*", keepAlive: true)
        #expect(tooLarge.closesConnection && header(tooLarge, "Connection") == "close")
        let http10 = PushResponse.error(.notFound).final(corsOrigin: "*", keepAlive: false)
        #expect(http10.closesConnection && header(http10, "Connection") == "close")
    }
}
