import Foundation
import Shared

/// The verified token claims of a message's sender, as the edge stamped them on the upstream record (header `claims`,
/// docs/kafka-contract.md): the token's claims other than `sub` and `aud`, plus the service catalog's defaults for the
/// service where the token has no claim of that name. A service enforces its own rules with them, as presence does
/// with `rooms` and `watch` (docs/services.md).
///
/// Guarantees: parsed once, when made. A record without the header (an edge older than the header),
/// or whose header is not a JSON object, has no claims: every list is empty and ``allows(_:_:)`` is false. A claim
/// that is not an array of strings reads as empty; a string that is not a valid ``TopicPattern`` allows nothing, and
/// the claim's other patterns still work.
public struct SenderClaims: Sendable, Equatable {
    /// The sender, for `{sub}` in patterns.
    public let sender: String
    /// The header's bytes as the edge wrote them (one compact JSON object, keys sorted), for claims of other shapes;
    /// nil when the record had no `claims` header.
    public let json: [UInt8]?
    private let lists: [String: [String]]
    private let compiled: [String: [TopicPattern]]

    /// Claims read from the header `json` of a message `sender` sent.
    public init(sender: String, json: [UInt8]?) {
        self.sender = sender
        self.json = json
        let object = json.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] } ?? [:]
        var lists: [String: [String]] = [:]
        for (name, value) in object {
            if let strings = value as? [String] { lists[name] = strings }
        }
        self.lists = lists
        compiled = lists.mapValues { $0.compactMap { try? TopicPattern($0) } }
    }

    /// The strings of claim `name` (for example the patterns of `rooms`, or `services`), in order; empty when the
    /// claim is missing or not an array of strings.
    public func strings(_ name: String) -> [String] { lists[name] ?? [] }

    /// The valid topic patterns of claim `name`, in order (the others dropped).
    public func patterns(_ name: String) -> [TopicPattern] { compiled[name] ?? [] }

    /// Whether a pattern of claim `claim` matches `value` (a device id, a room name, a topic: any text, matched by
    /// ``TopicPattern/matches(_:device:)``), with `{sub}` standing for the sender.
    public func allows(_ claim: String, _ value: String) -> Bool {
        patterns(claim).contains { $0.matches(value, device: sender) }
    }
}
