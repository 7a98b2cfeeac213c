import Foundation
import NIOCore

/// One HTTP/1 response as a server wrote it, read back from the bytes a test channel sent out: what a client would see.
public struct WrittenResponse: Sendable {
    public var status: Int
    /// Every header line in the order written.
    public var headers: [Header]
    public var body: String

    /// One header line `name: value`.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    /// The value of the first header named `name` (compared case-insensitively), or nil.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Splits the bytes a server wrote into responses, as a client reads them: a head up to the blank line, then as many
/// body bytes as `Content-Length` says (none for 1xx, 204 and 304, or for an answer to HEAD).
///
/// Guarantees: a response is returned only once all its bytes are in; framing a client could not read (no
/// `Content-Length` where a body may follow, a head that is not HTTP/1) throws ``MalformedResponse``.
public struct ResponseReader: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// Whether every byte appended so far belongs to a response already returned.
    public var isEmpty: Bool { pending.isEmpty }

    /// Adds bytes the server wrote, in order.
    public mutating func append(_ buffer: ByteBuffer) {
        pending.append(contentsOf: buffer.readableBytesView)
    }

    /// The next complete response, or nil while its bytes have not all arrived.
    /// - Parameter toHead: the request was HEAD, so no body follows, whatever `Content-Length` says.
    /// - Throws: ``MalformedResponse`` when the bytes cannot be a response.
    public mutating func next(toHead: Bool = false) throws -> WrittenResponse? {
        let blankLine: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = pending.indices.first(where: { pending[$0...].starts(with: blankLine) }) else { return nil }
        let lines = String(decoding: pending[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw MalformedResponse(reason: "status line \(lines[0])")
        }
        var headers: [WrittenResponse.Header] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw MalformedResponse(reason: "header line \(line)") }
            headers.append(.init(name: String(line[..<colon]),
                                 value: line[line.index(after: colon)...].trimmingCharacters(in: [" "])))
        }
        var response = WrittenResponse(status: status, headers: headers, body: "")
        let bodiless = toHead || status < 200 || status == 204 || status == 304
        var length = 0
        if !bodiless {
            guard let declared = response.header("Content-Length").flatMap({ Int($0) }) else {
                throw MalformedResponse(reason: "no Content-Length in a response with a body")
            }
            length = declared
        }
        let bodyStart = headEnd + blankLine.count
        guard pending.count >= bodyStart + length else { return nil }
        response.body = String(decoding: pending[bodyStart..<bodyStart + length], as: UTF8.self)
        pending.removeFirst(bodyStart + length)
        return response
    }
}

/// The bytes a server wrote cannot be read as an HTTP/1 response.
public struct MalformedResponse: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "not an HTTP/1 response: \(reason)" }
}
