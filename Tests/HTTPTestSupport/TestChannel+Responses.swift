import NIOCore
import NIOEmbedded

extension EmbeddedChannel {
    /// Sends `request`, raw bytes as a client would put them on the wire, into the pipeline.
    public func writeRequest(_ request: String) throws {
        try writeInbound(ByteBuffer(string: request))
    }

    /// Every response the pipeline has written so far (none of them to HEAD), its outbound bytes drained.
    /// - Throws: ``MalformedResponse`` also when bytes are left over that are no whole response.
    public func writtenResponses() throws -> [WrittenResponse] {
        var reader = ResponseReader()
        while let buffer = try readOutbound(as: ByteBuffer.self) { reader.append(buffer) }
        var responses: [WrittenResponse] = []
        while let response = try reader.next() { responses.append(response) }
        guard reader.isEmpty else { throw MalformedResponse(reason: "bytes after the last whole response") }
        return responses
    }
}

extension NIOAsyncTestingChannel {
    /// Sends `request`, raw bytes as a client would put them on the wire, into the pipeline.
    public func writeRequest(_ request: String) async throws {
        try await writeInbound(ByteBuffer(string: request))
    }

    /// Waits for the next complete response, reading the pipeline's writes into `reader` as they come.
    /// - Parameter toHead: the response answers HEAD (it has no body).
    /// - Throws: `ChannelError.ioOnClosedChannel` when the channel closes before the response is whole, or when the
    ///   task is cancelled (the channel is closed then).
    public func waitForResponse(_ reader: inout ResponseReader, toHead: Bool = false) async throws -> WrittenResponse {
        while true {
            // Everything written so far, so that no part of a response (NIO ends each with an empty write) is left.
            while let buffer = try await readOutbound(as: ByteBuffer.self) { reader.append(buffer) }
            if let response = try reader.next(toHead: toHead) { return response }
            // A test's time limit cancels it, and only a close ends this wait: a response that never comes fails
            // the test instead of hanging the run.
            reader.append(try await withTaskCancellationHandler {
                try await waitForOutboundWrite(as: ByteBuffer.self)
            } onCancel: {
                close(promise: nil)
            })
        }
    }

    /// Waits until the channel is closed. A cancelled wait (the test's time limit) closes it, so that a close that
    /// never comes fails the test instead of hanging the run.
    public func waitForClose() async throws {
        try await withTaskCancellationHandler {
            try await closeFuture.get()
        } onCancel: {
            close(promise: nil)
        }
    }
}
