/// How urgent a push is (RFC 8030 §5.3). Carried to the device; the gateway delivers every urgency alike.
public enum Urgency: String, Sendable, CaseIterable {
    case veryLow = "very-low"
    case low
    case normal
    case high
}
