import ChannelProtocol

/// A topic name a service tried to publish to that devices could never subscribe to (``TopicRules``): empty, longer
/// than 200 bytes, with a character outside `A-Z a-z 0-9 . _ - : @`, or a wildcard (`*`, `>`).
///
/// Guarantees: thrown before anything is sent; ``message`` says which rule the name broke.
public struct InvalidTopicName: Error, Sendable, Equatable, CustomStringConvertible {
    /// The refused name, cut to 64 characters for logs.
    public var topic: String
    public var message: String

    public var description: String { "cannot publish to topic \"\(topic)\": \(message)" }

    /// Returns if `topic` is a topic name, else throws saying why not.
    public static func check(_ topic: String) throws(InvalidTopicName) {
        guard !TopicRules.isTopicName(topic) else { return }
        let message: String
        if topic.isEmpty {
            message = "a topic name is 1 to \(TopicRules.maxTopicBytes) characters"
        } else if topic.utf8.contains(UInt8(ascii: "*")) || topic.utf8.contains(UInt8(ascii: ">")) {
            message = "wildcards (* and >) belong in token patterns; a message goes to one topic, named in full"
        } else if topic.utf8.count > TopicRules.maxTopicBytes {
            message = "longer than \(TopicRules.maxTopicBytes) bytes"
        } else {
            message = "a topic name has only the characters A-Z a-z 0-9 . _ - : @"
        }
        throw InvalidTopicName(topic: String(topic.prefix(64)), message: message)
    }
}
