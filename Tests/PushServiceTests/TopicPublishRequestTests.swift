import PushService
import ServiceKit
import Testing

/// The checks of `POST /v1/topics/{topic}` (PushRequestParser), the payload a publish carries, and its answers.
struct TopicPublishRequestTests {
    let policy = PushPolicy(maxPayloadBytes: 100, topicAPIKeys: ["k1", "k2"])

    func route(_ method: String = "POST", _ topic: String = "news.eu", _ headers: [(String, String)] = [("Authorization", "Bearer k1")],
               policy: PushPolicy? = nil) -> Result<PushRoute, PushRejection> {
        PushRequestParser.route(method: method, uri: "/v1/topics/\(topic)", headers: headers.map { (name: $0.0, value: $0.1) },
                                policy: policy ?? self.policy)
    }

    func rejection(_ result: Result<PushRoute, PushRejection>) -> PushRejection? {
        if case .failure(let rejection) = result { return rejection }
        return nil
    }

    func request(_ result: Result<PushRoute, PushRejection>) -> TopicPublishRequest? {
        if case .success(.publish(let request)) = result { return request }
        return nil
    }

    @Test func aValidPublishNamesItsTopic() {
        #expect(request(route()) == TopicPublishRequest(topic: "news.eu"))
        #expect(request(route("POST", "user.d-1:x@y_Z")).map(\.topic) == "user.d-1:x@y_Z")
        #expect(request(route("POST", "user.d-1%3Ax%40y")).map(\.topic) == "user.d-1:x@y", "%-escapes are decoded")
        #expect(request(route("POST", "a?x=1")).map(\.topic) == "a", "the query is not part of the topic")
        let longest = String(repeating: "t", count: 200)
        #expect(request(route("POST", longest))?.topic == longest)
    }

    @Test func withoutTopicKeysTheEndpointIsOff() {
        let off = PushPolicy(maxPayloadBytes: 100, apiKeys: ["push-key"])
        #expect(rejection(route(policy: off)) == .topicsDisabled)
        #expect(rejection(route("POST", "news", [("Authorization", "Bearer push-key")], policy: off))?.status == 403,
                "push keys do not publish")
        #expect(rejection(route("GET", policy: off))?.status == 405, "the method is checked first")
    }

    @Test func theKeyMustBeATopicKey() {
        for headers in [[], [("Authorization", "Bearer nope")], [("Authorization", "Basic k1")], [("Authorization", "Bearer k")],
                        [("Authorization", "Bearer k1x")], [("Authorization", "k1")]] {
            #expect(rejection(route("POST", "news", headers)) == .unauthorizedForTopics, "\(headers)")
        }
        #expect(request(route("POST", "news", [("authorization", "Bearer  k2 ")])) != nil, "any key, spaces around it ignored")
        #expect(rejection(route("POST", "bad*topic", []))?.status == 401, "the key is checked before the name")
        #expect(rejection(route("OPTIONS", "news", [])) == nil, "a preflight carries no credentials")
    }

    @Test func badTopicNamesAre400() {
        for topic in ["", "news.*", "news.>", ">", "a/b", "a%2Fb", "a b", "a%", "a%4", "a%zz", "é",
                      String(repeating: "t", count: 201)] {
            let refused = rejection(route("POST", topic))
            #expect(refused?.status == 400 && refused?.code == "bad_topic", "\(topic)")
        }
        #expect(rejection(route("POST", "news.*"))?.message.contains("wildcard") == true)
        #expect(rejection(route("POST", String(repeating: "t", count: 201)))?.message.contains("200") == true)
    }

    @Test func otherMethodsAre405() {
        for method in ["GET", "PUT", "DELETE", "HEAD"] {
            #expect(rejection(route(method))?.status == 405, "\(method)")
        }
        #expect((try? route("OPTIONS").get()) == .preflight)
    }

    @Test func aDeclaredBodyOverTheLimitIs413() {
        let result = route("POST", "news", [("Authorization", "Bearer k1"), ("Content-Length", "101")])
        #expect(rejection(result)?.status == 413 && rejection(result)?.closesConnection == true)
        #expect(request(route("POST", "news", [("Authorization", "Bearer k1"), ("Content-Length", "100")])) != nil)
    }

    @Test func theContentTypeDecidesWhetherJSONStaysJSON() {
        func declared(_ type: String?) -> Bool? {
            var headers = [("Authorization", "Bearer k1")]
            if let type { headers.append(("Content-Type", type)) }
            return request(route("POST", "news", headers))?.declaresJSON
        }
        #expect(declared("application/json") == true)
        #expect(declared("Application/JSON; charset=utf-8") == true)
        #expect(declared("text/plain") == false && declared(nil) == false && declared("application/json-seq") == false)
        let json = TopicPublishRequest(topic: "t", declaresJSON: true)
        #expect(json.payload(Array(#"{"a":[1]}"#.utf8)) == .json(Array(#"{"a":[1]}"#.utf8)))
        #expect(json.payload(Array("{nope".utf8)) == .binary(Array("{nope".utf8)), "declared JSON that is not JSON is binary")
        #expect(TopicPublishRequest(topic: "t").payload(Array("true".utf8)) == .binary(Array("true".utf8)))
    }

    @Test func publishedSaysWhere() {
        let response = PushResponse.published(topic: "news", position: TopicPosition(partition: 3, offset: 1234))
        #expect(response.status == 201)
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"topic":"news","pos":"3:1234"}"#)
        #expect(response.headers.contains(PushResponse.Header("Content-Type", "application/json")))
    }
}
