/// A strict RFC 8259 JSON reader over UTF-8 bytes that validates a document and reports where each value lies,
/// without building a tree.
///
/// The gateway forwards a message body to Kafka as the exact bytes the device sent, so it needs the byte range of the
/// body, not a parsed copy. Guarantees: rejects anything that is not one JSON value (trailing bytes, bad escapes,
/// unpaired surrogates, leading zeros, control characters in strings, invalid UTF-8, nesting deeper than
/// `maxDepth`), never traps on any input, and runs in time linear in the input.
public struct JSONScanner {
    public static let defaultMaxDepth = 32

    let bytes: [UInt8]
    let maxDepth: Int
    var index: Int = 0

    init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// The members of a top-level object: each key with the byte range of its raw value.
    public struct ObjectMembers {
        public let bytes: [UInt8]
        public let members: [(key: String, range: Range<Int>)]

        /// The raw value bytes of the last member named `key`.
        public func raw(_ key: String) -> ArraySlice<UInt8>? {
            members.last(where: { $0.key == key }).map { bytes[$0.range] }
        }

        /// The value of `key` when it is a JSON string; `.some(nil)`-free: nil if absent, throws if not a string.
        public func string(_ key: String) throws(JSONError) -> String? {
            guard let raw = raw(key) else { return nil }
            guard raw.first == UInt8(ascii: "\"") else { throw JSONError(.wrongType(key, expected: "string"), at: raw.startIndex) }
            var scanner = JSONScanner(bytes, maxDepth: 1)
            scanner.index = raw.startIndex
            return try scanner.readString()
        }

        /// The value of `key` when it is a JSON integer that fits in Int64; nil if absent, throws otherwise.
        public func integer(_ key: String) throws(JSONError) -> Int64? {
            guard let raw = raw(key) else { return nil }
            guard let value = Int64(String(decoding: raw, as: UTF8.self)) else {
                throw JSONError(.wrongType(key, expected: "integer"), at: raw.startIndex)
            }
            return value
        }
    }

    /// Validates `bytes` as a single JSON object and returns its members.
    /// - Throws: ``JSONError`` naming the first problem and its byte offset.
    public static func object(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONError) -> ObjectMembers {
        var scanner = JSONScanner(bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{") else { throw JSONError(.notAnObject, at: scanner.index) }
        let members = try scanner.readObjectMembers(depth: 1)
        scanner.skipWhitespace()
        guard scanner.index == bytes.count else { throw JSONError(.trailingBytes, at: scanner.index) }
        return ObjectMembers(bytes: bytes, members: members)
    }

    /// Whether `bytes` hold exactly one valid JSON value (of any kind).
    public static func isValidValue(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) -> Bool {
        var scanner = JSONScanner(bytes, maxDepth: maxDepth)
        do {
            scanner.skipWhitespace()
            try scanner.skipValue(depth: 0)
            scanner.skipWhitespace()
            return scanner.index == bytes.count
        } catch {
            return false
        }
    }

    // MARK: - Reading

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(JSONError) {
        guard peek() == byte else {
            throw JSONError(peek() == nil ? .unexpectedEnd : .expected(Character(UnicodeScalar(byte))), at: index)
        }
        index += 1
    }

    mutating func readObjectMembers(depth: Int) throws(JSONError) -> [(key: String, range: Range<Int>)] {
        try expect(UInt8(ascii: "{"))
        var members: [(key: String, range: Range<Int>)] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { index += 1; return members }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw JSONError(peek() == nil ? .unexpectedEnd : .expectedKey, at: index) }
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            let start = index
            try skipValue(depth: depth)
            members.append((key, start..<index))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return members
            case nil: throw JSONError(.unexpectedEnd, at: index)
            default: throw JSONError(.expected(","), at: index)
            }
        }
    }

    mutating func skipValue(depth: Int) throws(JSONError) {
        guard let byte = peek() else { throw JSONError(.unexpectedEnd, at: index) }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw JSONError(.tooDeep(maxDepth), at: index) }
            _ = try readObjectMembers(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw JSONError(.tooDeep(maxDepth), at: index) }
            try skipArray(depth: depth + 1)
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw JSONError(.unexpectedByte(byte), at: index)
        }
    }

    mutating func skipArray(depth: Int) throws(JSONError) {
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { index += 1; return }
        while true {
            skipWhitespace()
            try skipValue(depth: depth)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return
            case nil: throw JSONError(.unexpectedEnd, at: index)
            default: throw JSONError(.expected(","), at: index)
            }
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
        let ok = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard ok else { throw JSONError(.invalidLiteral, at: index) }
        index += count
    }

    mutating func skipNumber() throws(JSONError) {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw JSONError(.invalidNumber, at: start) }
        if first == UInt8(ascii: "0") {
            index += 1
            if let next = peek(), isDigit(next) { throw JSONError(.invalidNumber, at: start) }
        } else {
            while let d = peek(), isDigit(d) { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let d = peek(), isDigit(d) else { throw JSONError(.invalidNumber, at: start) }
            while let d = peek(), isDigit(d) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let d = peek(), isDigit(d) else { throw JSONError(.invalidNumber, at: start) }
            while let d = peek(), isDigit(d) { index += 1 }
        }
    }

    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    mutating func skipString() throws(JSONError) {
        var sink: [UInt8]? = nil
        try scanString(into: &sink)
    }

    mutating func readString() throws(JSONError) -> String {
        var out: [UInt8]? = []
        try scanString(into: &out)
        return String(decoding: out ?? [], as: UTF8.self)
    }

    /// Scans a string at `index`, validating escapes and UTF-8; appends the decoded bytes to `out` when non-nil.
    mutating func scanString(into out: inout [UInt8]?) throws(JSONError) {
        let start = index
        try expect(UInt8(ascii: "\""))
        while true {
            guard index < bytes.count else { throw JSONError(.unterminatedString, at: start) }
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard let e = peek() else { throw JSONError(.unterminatedString, at: start) }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out?.append(e)
                case UInt8(ascii: "b"): out?.append(0x08)
                case UInt8(ascii: "f"): out?.append(0x0C)
                case UInt8(ascii: "n"): out?.append(0x0A)
                case UInt8(ascii: "r"): out?.append(0x0D)
                case UInt8(ascii: "t"): out?.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                            throw JSONError(.invalidEscape, at: index)
                        }
                        index += 2
                        let low = try readHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw JSONError(.invalidEscape, at: index) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw JSONError(.invalidEscape, at: index)
                    }
                    if out != nil, let u = Unicode.Scalar(scalar) { out!.append(contentsOf: Array(String(Character(u)).utf8)) }
                default: throw JSONError(.invalidEscape, at: index - 1)
                }
            case 0x00..<0x20:
                throw JSONError(.controlCharacterInString, at: index)
            case 0x00..<0x80:
                out?.append(b)
                index += 1
            default:
                let length = try utf8SequenceLength(at: index)
                out?.append(contentsOf: bytes[index..<index + length])
                index += length
            }
        }
    }

    mutating func readHex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONError(.invalidEscape, at: index) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw JSONError(.invalidEscape, at: index)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// The length of the well-formed UTF-8 sequence starting at `i` (RFC 3629: no overlongs, no surrogates).
    func utf8SequenceLength(at i: Int) throws(JSONError) -> Int {
        let b0 = bytes[i]
        func cont(_ k: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            i + k < bytes.count && range.contains(bytes[i + k])
        }
        switch b0 {
        case 0xC2...0xDF where cont(1): return 2
        case 0xE0 where cont(1, 0xA0...0xBF) && cont(2): return 3
        case 0xE1...0xEC where cont(1) && cont(2): return 3
        case 0xED where cont(1, 0x80...0x9F) && cont(2): return 3
        case 0xEE...0xEF where cont(1) && cont(2): return 3
        case 0xF0 where cont(1, 0x90...0xBF) && cont(2) && cont(3): return 4
        case 0xF1...0xF3 where cont(1) && cont(2) && cont(3): return 4
        case 0xF4 where cont(1, 0x80...0x8F) && cont(2) && cont(3): return 4
        default: throw JSONError(.invalidUTF8, at: i)
        }
    }
}

/// Why bytes are not the JSON the protocol expects, and where.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case notAnObject, trailingBytes, unexpectedEnd, expectedKey, expected(Character), unexpectedByte(UInt8)
        case invalidLiteral, invalidNumber, invalidEscape, unterminatedString, controlCharacterInString, invalidUTF8
        case tooDeep(Int), wrongType(String, expected: String)
    }

    public let reason: Reason
    public let offset: Int

    init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .notAnObject: what = "expected a JSON object"
        case .trailingBytes: what = "unexpected bytes after the JSON value"
        case .unexpectedEnd: what = "unexpected end of input"
        case .expectedKey: what = "expected a string key"
        case .expected(let c): what = "expected '\(c)'"
        case .unexpectedByte(let b): what = "unexpected byte 0x\(String(b, radix: 16))"
        case .invalidLiteral: what = "invalid literal"
        case .invalidNumber: what = "invalid number"
        case .invalidEscape: what = "invalid escape sequence"
        case .unterminatedString: what = "unterminated string"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .invalidUTF8: what = "invalid UTF-8"
        case .tooDeep(let max): what = "nested deeper than \(max) levels"
        case .wrongType(let key, let expected): what = "\"\(key)\" must be a \(expected)"
        }
        return "\(what) at byte \(offset)"
    }
}
