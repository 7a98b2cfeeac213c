import ChannelProtocol
import HTTPTestSupport
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import Edge

/// The pipeline `EdgeServer` gives a connection before it is a WebSocket (``EdgeServer/configureConnection``), fed raw
/// request bytes in-process: plain HTTP answers (404, 403, 426, 400) close the connection; a valid upgrade gets 101
/// with the subprotocol chosen, cancels the handshake timeout and puts ``ClientFrameRules`` in front of the device.
@Suite struct EdgeHandshakeTests {
    static let allowedOrigins: Set<String> = ["https://app.example"]

    /// Stands in for `DeviceConnection`: passes frames on to the test and keeps the encoding it was made for.
    final class DeviceStandIn: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        let encoding: FrameEncoding
        init(encoding: FrameEncoding) { self.encoding = encoding }
    }

    /// A connected channel with the edge's pipeline, and a handshake timeout that the upgrade cancels, as in
    /// `EdgeServer.bind`.
    func edgeConnection() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let handshake = channel.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
        try EdgeServer.configureConnection(
            channel, tls: nil, maxBytes: 4096, allowedOrigins: Self.allowedOrigins,
            upgrading: { handshake.cancel() },
            device: { _, encoding in DeviceStandIn(encoding: encoding) })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        return channel
    }

    func request(_ headers: [String], to uri: String = EdgeServer.path) -> String {
        "GET \(uri) HTTP/1.1\r\nHost: edge.example\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    /// The headers of a WebSocket upgrade (the key and accept value are RFC 6455's example).
    static let upgrade = [
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]

    /// The one response written, after which the connection must be closed.
    func onlyResponseThenClosed(_ channel: EmbeddedChannel) throws -> WrittenResponse? {
        let responses = try channel.writtenResponses()
        #expect(responses.count == 1)
        #expect(responses.first?.header("Connection") == "close")
        #expect(!channel.isActive, "closed after the answer")
        return responses.first
    }

    @Test func anotherPathIsNotFound() throws {
        let channel = try edgeConnection()
        try channel.writeRequest(request(Self.upgrade, to: "/v1/other"))
        let response = try onlyResponseThenClosed(channel)
        #expect(response?.status == 404)
        #expect(response?.body == "not found: devices connect to /v1/channel\n")
        #expect(response?.header("Upgrade") == nil)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func anOriginNotAllowedIsForbidden() throws {
        let channel = try edgeConnection()
        try channel.writeRequest(request(Self.upgrade + ["Origin: https://evil.example"]))
        let response = try onlyResponseThenClosed(channel)
        #expect(response?.status == 403)
        #expect(response?.body == "origin not allowed\n")
        #expect(response?.header("Upgrade") == nil)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test(arguments: [
        ["Accept: */*"],
        upgrade + ["Sec-WebSocket-Protocol: chat, superchat"],
    ])
    func noUsableUpgradeOnThePathIsUpgradeRequired(_ headers: [String]) throws {
        let channel = try edgeConnection()
        try channel.writeRequest(request(headers))
        let response = try onlyResponseThenClosed(channel)
        #expect(response?.status == 426)
        #expect(response?.header("Upgrade") == "websocket")
        #expect(response?.body == "connect with a WebSocket upgrade and subprotocol channel.v1.json or channel.v1.bin\n")
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func bytesHTTPCannotParseAreAnswered400AndClosed() throws {
        let channel = try edgeConnection()
        try channel.writeRequest("\u{1}\u{2} nonsense\r\n\r\n")
        let response = try onlyResponseThenClosed(channel)
        #expect(response?.status == 400)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func aValidUpgradeGets101WithTheFirstSubprotocolSpoken() throws {
        let channel = try edgeConnection()
        try channel.writeRequest(request(Self.upgrade + ["Sec-WebSocket-Protocol: chat, channel.v1.bin, channel.v1.json"]))
        // NIO's upgrade handler finishes the upgrade in tasks it submits to the loop: run them, as a real loop would.
        channel.embeddedEventLoop.run()
        let responses = try channel.writtenResponses()
        #expect(responses.map(\.status) == [101])
        #expect(responses.first?.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(responses.first?.header("Sec-WebSocket-Protocol") == "channel.v1.bin")
        let device = try channel.pipeline.syncOperations.handler(type: DeviceStandIn.self)
        #expect(device.encoding == .binary)
        #expect(throws: (any Error).self, "the plain-HTTP responder is gone") {
            _ = try channel.pipeline.syncOperations.handler(type: NotAWebSocketResponder.self)
        }

        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "the upgrade cancelled the handshake timeout")
        // A masked frame reaches the device; an unmasked one is closed with 1002 by the rules in front of it.
        try channel.writeInbound(try ClientFrames.wire([ClientFrames.frame(.binary, "hi")]))
        #expect(try channel.readInbound(as: WebSocketFrame.self).map { String(buffer: $0.unmaskedData) } == "hi")
        try channel.writeInbound(try ClientFrames.wire([ClientFrames.frame(.binary, "bare", masked: false)]))
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
        var written = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        #expect(Array(written.readableBytesView) == [0x88, 0x02, 0x03, 0xEA], "a close frame with 1002")
        #expect(channel.isActive, "waiting a second for the device to close first")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func anUpgradeOfferingNoSubprotocolSpeaksJSONAndNamesNone() throws {
        let channel = try edgeConnection()
        try channel.writeRequest(request(Self.upgrade))
        channel.embeddedEventLoop.run()
        let responses = try channel.writtenResponses()
        #expect(responses.map(\.status) == [101])
        #expect(responses.first?.header("Sec-WebSocket-Protocol") == nil)
        #expect(try channel.pipeline.syncOperations.handler(type: DeviceStandIn.self).encoding == .json)
        #expect(try channel.finish().isClean)
    }
}
