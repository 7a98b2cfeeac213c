import ChannelProtocol

/// A pattern of topics a device token allows subscribing to (the token's `topics` claim, docs/security.md).
///
/// Segments are separated by `.`: a `*` segment matches exactly one segment, a final `>` matches one or more, and
/// `{sub}` anywhere stands for the token's device id; everything else matches itself. So `news.*` allows
/// `news.sports` but not `news` or `news.sports.eu`, `news.>` allows both of the latter, and `user.{sub}.*` lets
/// device `d-42` subscribe to `user.d-42.inbox` only.
///
/// Guarantees: a pattern matches only topic names that obey ``TopicRules``; a device id put in for `{sub}` is taken
/// literally and as exactly one segment: a pattern with `{sub}` allows nothing to a device whose id has a `.` or any
/// other character topic names lack, so device `a` never reaches the topics of device `a.b`.
public struct TopicPattern: Sendable, Equatable, CustomStringConvertible {
    public let description: String

    /// - Throws: ``TokenError`` for a pattern that is empty, too long, or has a character outside topic names other
    ///   than the wildcards, or a `>` that is not the last segment.
    public init(_ text: String) throws(TokenError) {
        let plain = text.replacingOccurrences(of: "{sub}", with: "x")
        let segments = plain.split(separator: ".", omittingEmptySubsequences: false)
        guard !text.isEmpty, text.utf8.count <= TopicRules.maxTopicBytes,
              plain.utf8.allSatisfy({ $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") || TopicRules.isTopicByte($0) }),
              segments.allSatisfy({ !$0.contains("*") || $0 == "*" }),
              segments.dropLast().allSatisfy({ !$0.contains(">") }), segments.last.map({ !$0.contains(">") || $0 == ">" }) ?? false
        else {
            throw TokenError(message: "topic pattern \"\(text.prefix(64))\": segments of A-Z a-z 0-9 _ - : @, or * (one segment), or a final > (the rest), with {sub} for the device")
        }
        description = text
    }

    /// Whether the device `device` may subscribe to `topic` under this pattern.
    public func allows(_ topic: String, device: String) -> Bool {
        guard TopicRules.isTopicName(topic) else { return false }
        if description.contains("{sub}"),
           device.isEmpty || !device.utf8.allSatisfy({ TopicRules.isTopicByte($0) && $0 != UInt8(ascii: ".") }) {
            return false
        }
        let pattern = description.replacingOccurrences(of: "{sub}", with: device)
        let wanted = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let actual = topic.split(separator: ".", omittingEmptySubsequences: false)
        for (index, segment) in wanted.enumerated() {
            if segment == ">" && index == wanted.count - 1 { return actual.count > index }
            guard index < actual.count else { return false }
            if segment == "*" { continue }
            guard segment == actual[index] else { return false }
        }
        return actual.count == wanted.count
    }
}
