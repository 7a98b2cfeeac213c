import NIOHTTP1
import Testing
@testable import Edge

/// Which upgrades the allowed-origins list lets through, without sockets.
@Suite struct OriginTests {
    func head(origin: String?...) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        for origin in origin { if let origin { headers.add(name: "Origin", value: origin) } }
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: "/v1/channel", headers: headers)
    }

    @Test func anEmptyListAllowsEveryOrigin() {
        #expect(EdgeServer.originAllowed(head(origin: "https://evil.example"), []))
    }

    @Test func aListAllowsOnlyItsOriginsAndRequestsWithoutOrigin() {
        var limits = EdgeLimits()
        limits.allowedOrigins = ["https://App.example/", "http://localhost:3000"]
        let allowed = limits.normalizedOrigins
        #expect(EdgeServer.originAllowed(head(origin: nil), allowed), "no Origin: not a browser")
        #expect(EdgeServer.originAllowed(head(origin: "https://app.example"), allowed))
        #expect(EdgeServer.originAllowed(head(origin: "http://localhost:3000"), allowed))
        #expect(!EdgeServer.originAllowed(head(origin: "http://localhost:3001"), allowed))
        #expect(!EdgeServer.originAllowed(head(origin: "https://app.example.evil"), allowed))
        #expect(!EdgeServer.originAllowed(head(origin: "null"), allowed))
        #expect(!EdgeServer.originAllowed(head(origin: "https://app.example", "https://evil.example"), allowed))
        #expect(EdgeServer.upgradeHeaders(for: head(origin: "https://evil.example"), allowedOrigins: allowed) == nil)
        #expect(EdgeServer.upgradeHeaders(for: head(origin: "https://app.example"), allowedOrigins: allowed) != nil)
    }
}
