/// The ranges of the identifiers the protocol carries, shared by every encoding.
///
/// Services name Kafka topics, so their names keep to characters every topic name allows; ids end up in Kafka
/// headers and Redis keys, so they are bounded.
public enum FieldRules {
    public static let maxIDBytes = 128
    public static let maxServiceBytes = 64

    /// A message id: 1…128 bytes of UTF-8 with no control characters.
    public static func checkMessageID(_ id: String) throws(ProtocolError) {
        guard !id.isEmpty, id.utf8.count <= maxIDBytes, !id.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw ProtocolError(.invalidField, "\"id\" must be 1 to \(maxIDBytes) bytes without control characters")
        }
    }

    /// A device id: 1…128 bytes of visible ASCII (letters, digits and `.-_:@`).
    public static func checkDevice(_ device: String) throws(ProtocolError) {
        guard isDeviceID(device) else {
            throw ProtocolError(.invalidField, "\"device\" must be 1 to \(maxIDBytes) characters of A-Z a-z 0-9 . - _ : @")
        }
    }

    public static func isDeviceID(_ device: String) -> Bool {
        !device.isEmpty && device.utf8.count <= maxIDBytes && device.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
                || b == UInt8(ascii: ":") || b == UInt8(ascii: "@")
        }
    }

    /// A service name: 1…64 characters of lower-case letters, digits, `-` and `_`, starting with a letter or digit.
    public static func checkService(_ service: String, ref: String? = nil) throws(ProtocolError) {
        guard isServiceName(service) else {
            throw ProtocolError(.unknownService, "no service named \"\(service.prefix(64))\"", ref: ref)
        }
    }

    public static func isServiceName(_ service: String) -> Bool {
        guard let first = service.utf8.first, service.utf8.count <= maxServiceBytes else { return false }
        let lowerOrDigit: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) }
        return lowerOrDigit(first) && service.utf8.allSatisfy { lowerOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }
}
