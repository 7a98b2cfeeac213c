/// The device topics the presence service publishes to (docs/presence.md, "Rooms over topics").
///
/// Guarantees: for every room name ``PresenceOp`` accepts (1–64 of `A-Z a-z 0-9 . _ -`), the topic is a valid topic
/// name (at most 78 bytes) under `presence.room.`, so a token pattern `presence.room.>` allows every room's topic.
public enum PresenceTopic {
    /// Where every change of `room`'s members is published once: `presence.room.<room>`.
    public static func room(_ room: String) -> String { "presence.room.\(room)" }
}
