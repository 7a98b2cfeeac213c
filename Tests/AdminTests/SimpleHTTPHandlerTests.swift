import HTTPTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import Admin

/// ``SimpleHTTPHandler`` behind NIO's server pipeline, as `SimpleHTTPServer` builds it, fed raw request bytes
/// in-process: keep-alive requests are answered one by one in order, bodies are ignored, HEAD gets headers only, and
/// a request that does not keep the connection alive has it closed after its answer.
@Suite(.timeLimit(.minutes(1))) struct SimpleHTTPHandlerTests {
    /// Answers every request with its method and target, so a test sees which request each response answers.
    static let echo: SimpleHTTPServer.Answer = { head in
        SimpleHTTPResponse(.ok, "text/plain", Array("\(head.method) \(head.uri)".utf8), headers: [("Cache-Control", "no-store")])
    }

    func connection() async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(RealSocketWrites())
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(SimpleHTTPHandler(answer: Self.echo))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9090)).get()
        return channel
    }

    @Test func keepAliveRequestsAreAnsweredInOrder() async throws {
        let channel = try await connection()
        // Sent together: the answers run in tasks, yet each waits for the one before it.
        try await channel.writeRequest(
            "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /readyz HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        var reader = ResponseReader()
        var bodies: [String] = []
        for _ in 0..<3 {
            let response = try await channel.waitForResponse(&reader)
            #expect(response.status == 200)
            #expect(response.header("Connection") == nil)
            #expect(response.header("Content-Type") == "text/plain")
            #expect(response.header("Cache-Control") == "no-store")
            bodies.append(response.body)
        }
        #expect(bodies == ["GET /healthz", "GET /readyz", "GET /metrics"])
        #expect(reader.isEmpty)
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive)
        #expect(try await channel.finish().isClean)
    }

    @Test func headGetsTheHeadersOfGETWithoutTheBody() async throws {
        let channel = try await connection()
        try await channel.writeRequest("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        var reader = ResponseReader()
        let head = try await channel.waitForResponse(&reader, toHead: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "\("HEAD /healthz".utf8.count)")
        // Had a body gone out, it would be read here as the next response's head and fail. (NIO's encoder drops the
        // body of an answer to HEAD too, so this checks what reaches the client, not the handler's HEAD branch alone.)
        let get = try await channel.waitForResponse(&reader)
        #expect(get.body == "GET /healthz")
        #expect(reader.isEmpty)
        #expect(try await channel.finish().isClean)
    }

    @Test func aRequestBodyIsReadAndIgnored() async throws {
        let channel = try await connection()
        try await channel.writeRequest(
            "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
                + "PUT /readyz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                + "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        var reader = ResponseReader()
        var bodies: [String] = []
        for _ in 0..<3 { bodies.append(try await channel.waitForResponse(&reader).body) }
        #expect(bodies == ["POST /healthz", "PUT /readyz", "GET /metrics"], "one answer a request, bodies no requests")
        #expect(try await channel.finish().isClean)
    }

    @Test(arguments: [
        "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.0\r\n\r\n",
    ])
    func aRequestThatDoesNotKeepAliveHasTheConnectionClosedAfterItsAnswer(_ request: String) async throws {
        let channel = try await connection()
        try await channel.writeRequest(request)
        var reader = ResponseReader()
        let response = try await channel.waitForResponse(&reader)
        #expect(response.body == "GET /healthz")
        #expect(response.header("Connection") == "close")
        try await channel.waitForClose()
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }
}
