import PushService
import Testing

/// The HTTP API's checks of a request head (PushRequestParser): every status it can answer before the body is read.
struct PushRequestTests {
    let id = "AbCdEfGhIjKlMnOpQrSt_-"
    let policy = PushPolicy(maxPayloadBytes: 100)

    func route(_ method: String = "POST", _ uri: String? = nil, _ headers: [(String, String)] = [("TTL", "60")],
               policy: PushPolicy? = nil) -> Result<PushRoute, PushRejection> {
        PushRequestParser.route(method: method, uri: uri ?? "/v1/push/\(id)", headers: headers.map { (name: $0.0, value: $0.1) },
                                policy: policy ?? self.policy)
    }

    func status(_ result: Result<PushRoute, PushRejection>) -> Int {
        switch result {
        case .success(.push): 0
        case .success(.preflight): 204
        case .success(.publish): 1
        case .failure(let rejection): rejection.status
        }
    }

    func request(_ result: Result<PushRoute, PushRejection>) -> PushRequest? {
        if case .success(.push(let request)) = result { return request }
        return nil
    }

    @Test func aValidPushCarriesItsHeaders() throws {
        let result = route("POST", "/v1/push/\(id)?x=1", [("ttl", " 60 "), ("Urgency", "high"), ("Topic", "news_1-A")])
        #expect(request(result) == PushRequest(subscription: id, ttlSeconds: 60, urgency: .high, topic: "news_1-A"))
        #expect(request(route())?.urgency == .normal, "Urgency defaults to normal")
        #expect(request(route())?.topic == nil)
    }

    @Test func pathsThatNameNoSubscriptionAre404() {
        for uri in ["/", "/v1/push", "/v1/push/", "/v1/push/short", "/v1/push/\(id)/x", "/v1/push/\(id)x",
                    "/v1/push/AbCdEfGhIjKlMnOpQrSt+/", "/v2/push/\(id)", "/v1/push/messages/\(id)"] {
            #expect(status(route("POST", uri)) == 404, "\(uri)")
        }
    }

    @Test func otherMethodsAre405AndOptionsIsAPreflight() {
        for method in ["GET", "PUT", "DELETE", "HEAD", "PATCH"] {
            #expect(status(route(method)) == 405, "\(method)")
        }
        #expect(status(route("OPTIONS", nil, [])) == 204)
        #expect(status(route("GET", "/elsewhere")) == 404, "the path is checked before the method")
    }

    @Test func ttlIsRequiredAndANonNegativeInteger() {
        #expect(status(route("POST", nil, [])) == 400)
        for bad in ["", "-1", "1.5", "abc", "+5", "1e3", "0x10", "6 0"] {
            let result = route("POST", nil, [("TTL", bad)])
            #expect(status(result) == 400, "TTL \(bad)")
            if case .failure(let rejection) = result { #expect(rejection.code == "bad_ttl") }
        }
        #expect(request(route("POST", nil, [("TTL", "0")]))?.ttlSeconds == 0)
        #expect(request(route("POST", nil, [("TTL", "2592000")]))?.ttlSeconds == 2_592_000)
    }

    @Test func ttlAboveThirtyDaysIsCapped() {
        #expect(request(route("POST", nil, [("TTL", "2592001")]))?.ttlSeconds == PushPolicy.maxTTLSeconds)
        #expect(request(route("POST", nil, [("TTL", "99999999999999999999999999")]))?.ttlSeconds == PushPolicy.maxTTLSeconds)
    }

    @Test func urgencyMustBeOneOfFour() {
        for value in Urgency.allCases {
            #expect(request(route("POST", nil, [("TTL", "1"), ("Urgency", value.rawValue)]))?.urgency == value)
        }
        for bad in ["urgent", "HIGH", "", "very low"] {
            #expect(status(route("POST", nil, [("TTL", "1"), ("Urgency", bad)])) == 400, "Urgency \(bad)")
        }
    }

    @Test func topicIsAtMost32Base64URLCharacters() {
        let longest = String(repeating: "a", count: 32)
        #expect(request(route("POST", nil, [("TTL", "1"), ("Topic", longest)]))?.topic == longest)
        for bad in [longest + "a", "", "a b", "a/b", "a+b", "a=", "é"] {
            #expect(status(route("POST", nil, [("TTL", "1"), ("Topic", bad)])) == 400, "Topic \(bad)")
        }
    }

    @Test func aDeclaredBodyOverTheLimitIs413AndClosesTheConnection() {
        let result = route("POST", nil, [("TTL", "1"), ("Content-Length", "101")])
        #expect(status(result) == 413)
        if case .failure(let rejection) = result { #expect(rejection.closesConnection) }
        #expect(request(route("POST", nil, [("TTL", "1"), ("Content-Length", "100")])) != nil)
    }

    @Test func expectContinueIsNoticed() {
        #expect(request(route("POST", nil, [("TTL", "1"), ("Expect", "100-Continue")]))?.expectsContinue == true)
        #expect(request(route())?.expectsContinue == false)
    }

    @Test func apiKeysAreCheckedOnlyWhenConfigured() {
        let keyed = PushPolicy(maxPayloadBytes: 100, apiKeys: ["k1", "k2"])
        #expect(status(route("POST", nil, [("TTL", "1")], policy: keyed)) == 401)
        #expect(status(route("POST", nil, [("TTL", "1"), ("Authorization", "Bearer nope")], policy: keyed)) == 401)
        #expect(status(route("POST", nil, [("TTL", "1"), ("Authorization", "Basic k1")], policy: keyed)) == 401)
        #expect(status(route("POST", nil, [("TTL", "1"), ("Authorization", "Bearer k2")], policy: keyed)) == 0)
        #expect(status(route("POST", nil, [("TTL", "1")])) == 0, "no keys configured: the subscription id is the capability")
        #expect(status(route("OPTIONS", nil, [], policy: keyed)) == 204, "a preflight carries no credentials")
        #expect(status(route("POST", nil, [], policy: keyed)) == 401, "the key is checked before the headers")
    }
}
