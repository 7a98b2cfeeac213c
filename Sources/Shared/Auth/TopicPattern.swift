import ChannelProtocol

/// A pattern of names split in `.`-separated segments: the topics a device token allows subscribing to (the token's
/// `topics` claim, docs/security.md), and the presence rooms and devices of its `rooms` and `watch` claims
/// (docs/presence.md).
///
/// Segments are separated by `.`: a `*` segment matches exactly one segment, a `*` inside a segment matches any run
/// of characters within that segment (none included), a final `>` matches one or more segments, and `{sub}` anywhere
/// stands for the token's device id; everything else matches itself. So `news.*` allows `news.sports` but not `news`
/// or `news.sports.eu`, `news.>` allows both of the latter, `user-42-*` allows `user-42-phone` but not
/// `user-42-a.b`, and `user.{sub}.*` lets device `d-42` subscribe to `user.d-42.inbox` only.
///
/// Guarantees: ``allows(_:device:)`` matches only topic names that obey ``TopicRules``; ``matches(_:device:)``
/// matches any text, segment by segment, so every device id and room name can be matched whatever its characters. A
/// device id put in for `{sub}` is taken literally and as exactly one whole segment: a pattern with `{sub}` allows
/// nothing to a device whose id has a `.` or any other character topic names lack, so device `a` never reaches the
/// topics of device `a.b`; and a segment holding `{sub}` may hold no `*` (refused when parsed), since `{sub}-*` would
/// let device `a` reach what `{sub}` gives device `a-b`.
public struct TopicPattern: Sendable, Equatable, CustomStringConvertible {
    public let description: String

    /// - Throws: ``TokenError`` for a pattern that is empty, too long, or has a character outside topic names other
    ///   than the wildcards, a `>` that is not the whole last segment, `**`, or a `*` in a segment with `{sub}`.
    public init(_ text: String) throws(TokenError) {
        let plain = text.replacingOccurrences(of: "{sub}", with: "x")
        let segments = plain.split(separator: ".", omittingEmptySubsequences: false)
        guard !text.isEmpty, text.utf8.count <= TopicRules.maxTopicBytes,
              plain.utf8.allSatisfy({ $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") || TopicRules.isTopicByte($0) }),
              segments.allSatisfy({ !$0.contains("**") }),
              text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.contains("{sub}") || !$0.contains("*") }),
              segments.dropLast().allSatisfy({ !$0.contains(">") }), segments.last.map({ !$0.contains(">") || $0 == ">" }) ?? false
        else {
            throw TokenError(message: "topic pattern \"\(text.prefix(64))\": segments of A-Z a-z 0-9 _ - : @ and * (any characters within the segment; * alone: one segment), or a final > (the rest), with {sub} for the device (in a segment without *)")
        }
        description = text
    }

    /// Whether the device `device` may subscribe to `topic` under this pattern: `topic` is a topic name
    /// (``TopicRules``) and ``matches(_:device:)``.
    public func allows(_ topic: String, device: String) -> Bool {
        TopicRules.isTopicName(topic) && matches(topic, device: device)
    }

    /// Whether `name` (a topic, a device id, a room: any text, split into segments at each `.`) matches this pattern,
    /// with `{sub}` standing for `device`.
    public func matches(_ name: String, device: String) -> Bool {
        if description.contains("{sub}"),
           device.isEmpty || !device.utf8.allSatisfy({ TopicRules.isTopicByte($0) && $0 != UInt8(ascii: ".") }) {
            return false
        }
        // `device` has no `.` and no `*` here, and segments with `{sub}` have no `*`: it stays one literal segment.
        let pattern = description.replacingOccurrences(of: "{sub}", with: device)
        let wanted = pattern.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let actual = name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for (index, segment) in wanted.enumerated() {
            if segment.elementsEqual(">".utf8) && index == wanted.count - 1 { return actual.count > index }
            guard index < actual.count, Self.glob(Array(segment), Array(actual[index])) else { return false }
        }
        return actual.count == wanted.count
    }

    /// Whether `text` matches `pattern`, where each `*` stands for any run of bytes (none included).
    static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        let star = UInt8(ascii: "*")
        guard pattern.contains(star) else { return pattern == text }
        var p = 0, t = 0
        // Where the last `*` was, and the text position it currently swallows up to: on a mismatch it takes one more.
        var lastStar: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == star {
                lastStar = p
                resume = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let star = lastStar {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }
}
