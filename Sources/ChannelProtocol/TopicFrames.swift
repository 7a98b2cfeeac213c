/// A position in the topic stream: where one topic message sits in Kafka (partition and offset).
///
/// Devices treat it as opaque text (`"<partition>:<offset>"`, decimal, no leading zeros, no sign): they keep the last
/// one they processed per topic and name it when they subscribe again, to get what they missed. Positions of one
/// topic only grow.
public struct TopicPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var partition: Int32
    public var offset: Int64

    public init(partition: Int32, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    /// The text form, `"<partition>:<offset>"`.
    public var description: String { "\(partition):\(offset)" }

    /// Parses the text form strictly (canonical decimal, both parts non-negative), or nil.
    public init?(_ text: String) {
        let parts = text.utf8.split(separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let partition = Self.decimal(parts[0], max: Int64(Int32.max)),
              let offset = Self.decimal(parts[1], max: Int64.max) else { return nil }
        self.init(partition: Int32(partition), offset: offset)
    }

    private static func decimal(_ digits: Substring.UTF8View.SubSequence, max: Int64) -> Int64? {
        guard let first = digits.first, digits.count <= 19, first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard digit >= 0x30, digit <= 0x39 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(digit - 0x30))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value <= max ? value : nil
    }

    public static func < (a: TopicPosition, b: TopicPosition) -> Bool {
        (a.partition, a.offset) < (b.partition, b.offset)
    }
}

/// A message published to a topic, as the edge delivers it to each subscriber.
public struct TopicEvent: Sendable, Equatable {
    public var topic: String
    public var position: TopicPosition
    /// The service or publisher that sent it (the record's `service` header).
    public var from: String
    public var payload: Payload

    public init(topic: String, position: TopicPosition, from: String, payload: Payload) {
        self.topic = topic
        self.position = position
        self.from = from
        self.payload = payload
    }
}

/// The rules of topic names and subscriptions, shared by every encoding and by the token's topic patterns.
public enum TopicRules {
    public static let maxTopicBytes = 200

    /// A topic name: 1…200 bytes of `A-Z a-z 0-9 . _ - : @`; `.` separates the segments that token patterns match.
    /// Wildcards (`*`, `>`) are refused with their own message: a device subscribes to one topic at a time.
    public static func checkTopic(_ topic: String) throws(ProtocolError) {
        guard !isTopicName(topic) else { return }
        if topic.utf8.contains(UInt8(ascii: "*")) || topic.utf8.contains(UInt8(ascii: ">")) {
            throw ProtocolError(.invalidField, "\"topic\" has a wildcard: subscribe to topics by their full names")
        }
        throw ProtocolError(.invalidField, "\"topic\" must be 1 to \(maxTopicBytes) characters of A-Z a-z 0-9 . _ - : @")
    }

    public static func isTopicName(_ topic: String) -> Bool {
        !topic.isEmpty && topic.utf8.count <= maxTopicBytes && topic.utf8.allSatisfy(isTopicByte)
    }

    public static func isTopicByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: ":") || b == UInt8(ascii: "@")
    }

    /// A position sent by a device, or `bad_position` naming the topic.
    public static func position(_ text: String, topic: String) throws(ProtocolError) -> TopicPosition {
        guard let position = TopicPosition(text) else {
            throw ProtocolError(.badPosition, "\"pos\" is not a position this gateway gave out (\"<partition>:<offset>\")", ref: topic)
        }
        return position
    }
}
