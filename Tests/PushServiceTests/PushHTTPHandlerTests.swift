import HTTPTestSupport
import NIOCore
import NIOEmbedded
import Testing
@testable import PushService

/// ``PushHTTPHandler`` behind NIO's server pipeline, fed raw request bytes in-process with a fake in place of Redis
/// and Kafka: what it answers, when it answers before the body has arrived, and when it closes the connection.
@Suite(.timeLimit(.minutes(1))) struct PushHTTPHandlerTests {
    @Test func twoKeepAlivePushesAreCarriedAndAnsweredInOrder() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest(PushConnection.head(["Content-Length: 3"]) + "one"
                                       + PushConnection.head(["Content-Length: 3", "Urgency: high"]) + "two")
        var reader = ResponseReader()
        let first = try await channel.waitForResponse(&reader)
        let second = try await channel.waitForResponse(&reader)
        #expect([first.status, second.status] == [201, 201])
        #expect([first.header("Location"), second.header("Location")] == ["/v1/push/messages/m1", "/v1/push/messages/m2"])
        #expect(first.header("Connection") == nil && second.header("Connection") == nil)
        #expect(first.header("Access-Control-Allow-Origin") == "*")
        #expect(await carrier.payloads == ["one", "two"])
        #expect(await carrier.requests.map(\.urgency) == [.normal, .high])
        #expect(channel.isActive)
        #expect(try await channel.finish().isClean)
    }

    @Test func aDeclaredBodyOverTheLimitIs413AtOnceAndCloses() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        // Only the head and a little of the body: the answer may not wait for the rest.
        try await channel.writeRequest(PushConnection.head(["Content-Length: 17"]) + "0123")
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.status == 413)
        #expect(response.header("Connection") == "close")
        try await channel.waitForClose()
        #expect(await carrier.payloads.isEmpty)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func aChunkedBodyGrowingOverTheLimitIs413AtOnceAndCloses() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        // 10 bytes fit, 20 do not; the body's last chunk never comes.
        try await channel.writeRequest(PushConnection.head(["Transfer-Encoding: chunked"]) + "a\r\n0123456789\r\n")
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil, "under the limit: still reading")
        try await channel.writeRequest("a\r\n0123456789\r\n")
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.status == 413)
        #expect(response.body.contains("payload_too_large"))
        #expect(response.header("Connection") == "close")
        try await channel.waitForClose()
        #expect(await carrier.payloads.isEmpty)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test(arguments: [
        (PushConnection.head(["Content-Length: 5"], path: "/v1/push/nope"), 404),
        ("POST /v1/push/\(PushConnection.subscription) HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n\r\n", 400),
        (PushConnection.head(["Transfer-Encoding: chunked"], method: "PUT"), 405),
    ])
    func aRefusalFromTheHeadWhileABodyIsComingIsAnsweredAtOnceAndCloses(_ head: String, _ status: Int) async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        // The body is never sent: it must not be read as the next request, so the connection ends here.
        try await channel.writeRequest(head)
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.status == status)
        #expect(response.header("Connection") == "close")
        try await channel.waitForClose()
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func aRefusalWithoutABodyKeepsTheConnection() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest(PushConnection.head(path: "/v1/push/nope") + PushConnection.head(method: "OPTIONS")
                                       + PushConnection.head(["Content-Length: 2"]) + "ok")
        var reader = ResponseReader()
        var statuses: [Int] = []
        for _ in 0..<3 { statuses.append(try await channel.waitForResponse(&reader).status) }
        #expect(statuses == [404, 204, 201])
        #expect(await carrier.payloads == ["ok"])
        #expect(channel.isActive)
        #expect(try await channel.finish().isClean)
    }

    @Test func headGetsTheHeadersWithoutTheBody() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest(PushConnection.head(method: "HEAD") + PushConnection.head(method: "GET"))
        var reader = ResponseReader()
        let head = try await channel.waitForResponse(&reader, toHead: true)
        // Had a body gone out, it would be read here as the next response's head and fail. (NIO's encoder drops the
        // body of an answer to HEAD too, so this checks what reaches the client, not the handler's HEAD branch alone.)
        let get = try await channel.waitForResponse(&reader)
        #expect([head.status, get.status] == [405, 405])
        #expect(head.header("Allow") == "POST, OPTIONS")
        #expect(head.header("Content-Length") == "\(get.body.utf8.count)", "what GET would have sent")
        #expect(reader.isEmpty)
        #expect(try await channel.finish().isClean)
    }

    @Test func aPushExpectingContinueGetsItBeforeItsBody() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest(PushConnection.head(["Content-Length: 4", "Expect: 100-continue"]))
        var reader = ResponseReader()
        #expect(try await channel.waitForResponse(&reader).status == 100)
        try await channel.writeRequest("body")
        #expect(try await channel.waitForResponse(&reader).status == 201)
        #expect(await carrier.payloads == ["body"])
        #expect(try await channel.finish().isClean)
    }

    @Test func aClientAskingToCloseIsAnsweredThenClosed() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest(PushConnection.head(["Content-Length: 2", "Connection: close"]) + "hi")
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.status == 201)
        #expect(response.header("Connection") == "close")
        try await channel.waitForClose()
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func aPublishIsCarriedAndAnsweredWithItsPosition() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest(PushConnection.publishHead("news.eu", ["Content-Type: application/json", "Content-Length: 7"])
                                       + #"{"a":1}"#)
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.status == 201)
        #expect(response.body == #"{"topic":"news.eu","pos":"0:1"}"#)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Access-Control-Allow-Origin") == "*")
        #expect(await carrier.publishes == [TopicPublishRequest(topic: "news.eu", declaresJSON: true)])
        #expect(await carrier.payloads == [#"{"a":1}"#])
        #expect(channel.isActive)
        #expect(try await channel.finish().isClean)
    }

    @Test func aPublishOverTheLimitIs413AndAWrongKey401() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest("POST /v1/topics/news HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer nope\r\n\r\n"
                                       + PushConnection.publishHead("news", ["Transfer-Encoding: chunked"]) + "11\r\n0123456789abcdefg\r\n")
        var reader = ResponseReader()
        let unauthorized = try await channel.waitForResponse(&reader)
        #expect(unauthorized.status == 401 && unauthorized.body.contains("unauthorized"))
        let tooLarge = try await channel.waitForResponse(&reader)
        #expect(tooLarge.status == 413 && tooLarge.header("Connection") == "close")
        try await channel.waitForClose()
        #expect(await carrier.publishes.isEmpty)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func malformedHTTPIsAnswered400AndClosed() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        try await channel.writeRequest("POST /v1/push/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.status == 400)
        try await channel.waitForClose()
        #expect(await carrier.payloads.isEmpty)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }
}
