import HTTPTestSupport
import NIOCore
import NIOEmbedded
import Testing
@testable import PushService

/// ``PushHTTPHandler``'s request deadline (30 s in these tests), on the testing event loop's clock: a connection that
/// sends no head, or a request whose body does not arrive whole, is closed when it runs out; every answer on a
/// keep-alive connection starts it again.
@Suite(.timeLimit(.minutes(1))) struct PushHTTPDeadlineTests {
    @Test func aConnectionThatSendsNothingIsClosedAfterTheTimeout() async throws {
        let channel = try await PushConnection.open(carrier: RecordingCarrier())
        await channel.testingEventLoop.advanceTime(by: .seconds(30) - .nanoseconds(1))
        #expect(channel.isActive)
        await channel.testingEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func aBodyThatNeverEndsIsClosedAfterTheTimeoutWithoutAnAnswer() async throws {
        let carrier = RecordingCarrier()
        let channel = try await PushConnection.open(carrier: carrier)
        // The head comes late in the first period: its arrival starts the clock again.
        await channel.testingEventLoop.advanceTime(by: .seconds(20))
        try await channel.writeRequest(PushConnection.head(["Content-Length: 8"]) + "half")
        await channel.testingEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil, "nothing answered")
        #expect(await carrier.payloads.isEmpty)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func anIdleKeepAliveConnectionIsClosedTheTimeoutAfterItsLastAnswer() async throws {
        let channel = try await PushConnection.open(carrier: RecordingCarrier())
        await channel.testingEventLoop.advanceTime(by: .seconds(25))
        try await channel.writeRequest(PushConnection.head(["Content-Length: 2"]) + "hi")
        var reader = ResponseReader()
        #expect(try await channel.waitForResponse(&reader).status == 201)
        await channel.testingEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive, "the answer started the clock again")
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(try await channel.finish(acceptAlreadyClosed: true).isClean)
    }
}
