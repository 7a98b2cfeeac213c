import ChannelProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// One message of the topic stream as the edge holds it: read once from Kafka, then written to every local subscriber
/// of its topic from the same encoded bytes.
///
/// Guarantees: each encoding's frame is built at most once, on first use, and shared (never copied) by every write.
final class TopicEntry: Sendable {
    let event: TopicEvent
    /// When the broker stamped the record, Unix milliseconds (nil if it did not).
    let timestampMs: Int64?
    private let frames = NIOLockedValueBox<(json: ByteBuffer?, binary: ByteBuffer?)>((nil, nil))

    init(event: TopicEvent, timestampMs: Int64?) {
        self.event = event
        self.timestampMs = timestampMs
    }

    var topic: String { event.topic }
    var position: TopicPosition { event.position }

    /// Bytes the entry holds, for the log's budget (payload, names and one encoded frame, roughly).
    var cost: Int { 2 * event.payload.bytes.count + 2 * event.topic.utf8.count + event.from.utf8.count + 160 }

    /// The WebSocket frame carrying this event in `encoding`.
    func frame(_ encoding: FrameEncoding) -> WebSocketFrame {
        let binary = encoding.usesBinaryMessages
        let data = frames.withLockedValue { frames -> ByteBuffer in
            if let ready = binary ? frames.binary : frames.json { return ready }
            let buffer = ByteBuffer(bytes: encoding.encode(.event(event)))
            if binary { frames.binary = buffer } else { frames.json = buffer }
            return buffer
        }
        return WebSocketFrame(message: data, encoding)
    }
}
