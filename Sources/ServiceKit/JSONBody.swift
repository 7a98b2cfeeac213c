/// A JSON body a service sends to devices: just the kinds the shipped services' replies, notifications and error
/// bodies use.
///
/// Written by hand rather than with `JSONEncoder` because the services' protocols want explicit `null`s (an `expires`
/// that never comes) and fields left out (a notification without `topic`) in a fixed order, and a repeated message
/// (same id) must be the same bytes every time.
public enum JSONBody: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
    /// Fields in the order given; a field whose value is nil is left out.
    case object([(String, JSONBody?)])
    case array([JSONBody])

    /// The JSON text, UTF-8, compact. Strings are escaped per RFC 8259 (quote, backslash and control characters).
    public var bytes: [UInt8] { Array(text.utf8) }

    /// The JSON text.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .string(let s): Self.quote(s, into: &out)
        case .int(let n): out += String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            var first = true
            for (name, value) in fields {
                guard let value else { continue }
                if !first { out += "," }
                first = false
                Self.quote(name, into: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                // U+2028/2029 are valid JSON but break JavaScript string literals: escape them for the browser demo.
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Equal when the JSON texts are equal (field order counts).
    public static func == (lhs: JSONBody, rhs: JSONBody) -> Bool { lhs.text == rhs.text }
}
