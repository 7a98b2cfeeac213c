import ServiceKit

extension PushRequestParser {
    /// Where app servers publish to topics: `/v1/topics/{topic}`.
    static let topicsPath = "/v1/topics/"

    /// The checks of `POST /v1/topics/{topic}` once the path says it is one. Order: method (405; `OPTIONS` is a
    /// preflight), topic publishing configured (403), API key (401), the topic's name (400), declared `Content-Length`
    /// (413). The key comes before the name, so a caller without one learns nothing about topics.
    static func topicRoute(method: String, path: String, headers: [(name: String, value: String)],
                           policy: PushPolicy) -> Result<PushRoute, PushRejection> {
        switch method {
        case "OPTIONS": return .success(.preflight)
        case "POST": break
        default: return .failure(.methodNotAllowed)
        }
        guard !policy.topicAPIKeys.isEmpty else { return .failure(.topicsDisabled) }
        guard BearerAuthorization.allows(header("authorization", in: headers), keys: policy.topicAPIKeys) else {
            return .failure(.unauthorizedForTopics)
        }
        guard let topic = percentDecoded(String(path.dropFirst(topicsPath.count))) else {
            return .failure(.badRequest("bad_topic", "the topic in the path has a malformed %-escape"))
        }
        do {
            try InvalidTopicName.check(topic)
        } catch {
            return .failure(.badRequest("bad_topic", "topic \"\(error.topic)\": \(error.message)"))
        }
        if let length = header("content-length", in: headers).flatMap({ Int($0) }), length > policy.maxPayloadBytes {
            return .failure(.tooLarge(limit: policy.maxPayloadBytes))
        }
        // The media type alone counts (`application/json; charset=utf-8` is JSON too): JSON is UTF-8 by definition.
        let mediaType = header("content-type", in: headers)?.split(separator: ";", maxSplits: 1).first
            .map { String($0).trimmingSpaces.lowercased() }
        let expects = header("expect", in: headers)?.lowercased() == "100-continue"
        return .success(.publish(TopicPublishRequest(topic: topic, declaresJSON: mediaType == "application/json",
                                                     expectsContinue: expects)))
    }

    /// `text` with each `%XX` replaced by its byte, or nil when a `%` is not followed by two hex digits. Clients may
    /// escape `:` and `@`, which topic names allow.
    static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var input = text.utf8.makeIterator()
        while let byte = input.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = input.next().flatMap(hexValue), let low = input.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
