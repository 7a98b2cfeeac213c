import ChannelProtocol
import Foundation
import JWTKit
import Testing
@testable import Shared

/// The topic patterns of a device token's `topics` claim: which topics each lets a device subscribe to.
@Suite struct TopicPatternTests {
    func pattern(_ text: String) throws -> TopicPattern { try TopicPattern(text) }

    func allows(_ pattern: String, _ topic: String, device: String = "d-42") throws -> Bool {
        try TopicPattern(pattern).allows(topic, device: device)
    }

    @Test func aPlainPatternMatchesOnlyItself() throws {
        #expect(try allows("news.sports", "news.sports"))
        for other in ["news", "news.sports.eu", "news.sport", "news.sportsx", "xnews.sports", "news.Sports", "sports.news", ""] {
            #expect(try !allows("news.sports", other), "\(other)")
        }
    }

    @Test func aStarMatchesExactlyOneSegment() throws {
        for topic in ["news.sports", "news.x", "news.a-b_c:d@e", "news."] {
            #expect(try allows("news.*", topic), "\(topic)")
        }
        for topic in ["news", "news.sports.eu", "newsx.sports", "new.sports", "sports", "a.news.sports"] {
            #expect(try !allows("news.*", topic), "\(topic)")
        }
        #expect(try allows("*.inbox", "d-1.inbox"))
        #expect(try !allows("*.inbox", "a.b.inbox"))
        #expect(try allows("a.*.c", "a.b.c"))
        #expect(try !allows("a.*.c", "a.b.x.c"))
        #expect(try !allows("a.*.c", "a.b.d"))
        #expect(try allows("*", "anything"))
        #expect(try !allows("*", "any.thing"))
        #expect(try allows("*.*", "a.b") && !allows("*.*", "a") && !allows("*.*", "a.b.c"))
    }

    @Test func aFinalGreaterThanMatchesOneOrMoreSegments() throws {
        for topic in ["news.sports", "news.sports.eu", "news.a.b.c.d"] {
            #expect(try allows("news.>", topic), "\(topic)")
        }
        for topic in ["news", "newsx.sports", "sports.news", "new.s"] {
            #expect(try !allows("news.>", topic), "\(topic)")
        }
        #expect(try allows(">", "a") && allows(">", "a.b.c"))
        #expect(try allows("a.*.>", "a.b.c") && !allows("a.*.>", "a.b"))
    }

    @Test func aStarInsideASegmentMatchesAnyCharactersOfThatSegmentOnly() throws {
        for device in ["user-42-phone", "user-42-", "user-42-a-b_c:d@e"] {
            #expect(try allows("user-42-*", device), "\(device)")
        }
        for device in ["user-42-a.b", "user-42", "user-43-phone", "xuser-42-phone", "user-42.phone"] {
            #expect(try !allows("user-42-*", device), "\(device)")
        }
        #expect(try allows("team-7.*", "team-7.x") && !allows("team-7.*", "team-7x.x") && !allows("team-7.*", "team-7.x.y"))
        #expect(try allows("*-phone", "a-phone") && allows("*-phone", "-phone") && !allows("*-phone", "a-phone-2"))
        for text in ["abc", "aXbYc", "abbc", "abcbc", "a-b-c"] { #expect(try allows("a*b*c", text), "\(text)") }
        for text in ["acb", "ab", "bc", "abcd", "a.b.c"] { #expect(try !allows("a*b*c", text), "\(text)") }
        #expect(try allows("d-*.inbox.>", "d-1.inbox.x") && !allows("d-*.inbox.>", "d-1.outbox.x"))
        #expect(try allows("*.d-*", "x.d-1") && !allows("*.d-*", "x.y.d-1"))
        // Globs sit next to {sub} only across a `.`.
        #expect(try allows("{sub}.*-inbox", "d-42.a-inbox", device: "d-42"))
        #expect(try !allows("{sub}.*-inbox", "d-4.a-inbox", device: "d-42"))
    }

    @Test func aGlobNeverWidensSub() {
        // `user.{sub}-*` would let device `a` reach `user.a-b`, what `user.{sub}` gives device `a-b`.
        for text in ["user.{sub}-*", "user.*{sub}", "{sub}*", "x.*-{sub}-*.y"] {
            #expect(throws: TokenError.self, "\(text)") { try TopicPattern(text) }
        }
    }

    /// Every device id and room name is matched by what names it: itself, `>`, and a glob of any part of it.
    @Test func everyDeviceIdAndRoomNameCanBeMatched() throws {
        let deviceBytes = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:@".utf8)
        let roomBytes = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".utf8)
        var generator = SystemRandomNumberGenerator()
        var names: [String] = deviceBytes.map { String(decoding: [$0], as: UTF8.self) }
            + deviceBytes.map { String(decoding: [UInt8(ascii: "x"), $0, UInt8(ascii: "y")], as: UTF8.self) }
            + [String(repeating: "@", count: 128), String(repeating: ".", count: 128), String(repeating: "r", count: 64)]
        for _ in 0..<300 {
            let alphabet = Bool.random(using: &generator) ? deviceBytes : roomBytes
            let length = Int.random(in: 1...(alphabet == deviceBytes ? 128 : 64), using: &generator)
            names.append(String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self))
        }
        for name in names {
            let segments = name.split(separator: ".", omittingEmptySubsequences: false)
            #expect(try pattern(name).matches(name, device: "d-1"), "\(name) names itself")
            #expect(try pattern(name).allows(name, device: "d-1"), "\(name) is a topic name too")
            #expect(try pattern(">").matches(name, device: "d-1"), "\(name)")
            let star = segments.map { _ in "*" }.joined(separator: ".")
            if star.utf8.count <= TopicRules.maxTopicBytes {
                #expect(try pattern(star).matches(name, device: "d-1"), "\(name) by \(star)")
            }
            // The first segment's first character, then a glob; the other segments as they are.
            if let first = segments.first, let head = first.first {
                let glob = (["\(head)*"] + segments.dropFirst().map(String.init)).joined(separator: ".")
                #expect(try pattern(glob).matches(name, device: "d-1"), "\(name) by \(glob)")
                #expect(try !pattern(glob).matches(name + ".x", device: "d-1"), "\(name).x by \(glob)")
            }
            if !name.contains(".") {
                #expect(try pattern("{sub}").matches(name, device: name), "\(name) as {sub}")
                #expect(try !pattern("{sub}").matches(name + "x", device: name))
            } else {
                #expect(try !pattern("{sub}").matches(name, device: name), "\(name) is not one segment")
            }
        }
    }

    @Test func matchingAnyTextNeedsNoTopicName() throws {
        #expect(try pattern(">").matches("a b", device: "d-1") && !pattern(">").allows("a b", device: "d-1"))
        #expect(try !pattern("a").matches("", device: "d-1") && pattern("*").matches("", device: "d-1"))
    }

    @Test func segmentsMatchWholeNeverInPart() throws {
        #expect(try !allows("news", "newsroom"))
        #expect(try !allows("news.sp", "news.sports"))
        #expect(try !allows("news.*", "newsroom.x"))
        #expect(try !allows("news.>", "newsroom.x"))
        #expect(try !allows("user.{sub}", "user.d-4"), "a prefix of the device id")
        #expect(try !allows("user.{sub}", "user.d-420"))
    }

    @Test func subStandsForTheTokensDevice() throws {
        #expect(try allows("user.{sub}.*", "user.d-42.inbox", device: "d-42"))
        #expect(try !allows("user.{sub}.*", "user.d-43.inbox", device: "d-42"))
        #expect(try !allows("user.{sub}.*", "user.d-42", device: "d-42"))
        #expect(try !allows("user.{sub}.*", "user.d-42.inbox.x", device: "d-42"))
        #expect(try allows("user.{sub}", "user.d-42", device: "d-42"))
        #expect(try allows("{sub}", "d-42", device: "d-42"))
        #expect(try allows("user-{sub}-feed.>", "user-d-42-feed.a.b", device: "d-42"))
        #expect(try allows("{sub}.{sub}", "d-42.d-42", device: "d-42"))
        #expect(try !allows("{sub}.{sub}", "d-42.d-43", device: "d-42"))
        // The pattern text keeps `{sub}`: the same pattern serves every device.
        #expect(try pattern("user.{sub}.*").description == "user.{sub}.*")
    }

    @Test func aDeviceWhoseIDIsNotOneSegmentGetsNothingFromSub() throws {
        // Otherwise device `a` could read `user.a.b.x`, a topic of device `a.b`, under `user.{sub}.>`.
        #expect(try !allows("user.{sub}.>", "user.a.b.x", device: "a.b"))
        #expect(try !allows("user.{sub}", "user.a.b", device: "a.b"))
        #expect(try !allows("user.{sub}", "user.a*", device: "a*"))
        #expect(try allows("user.{sub}.>", "user.a.b.x", device: "a"))
        // Patterns without `{sub}` still serve such a device.
        #expect(try allows("news.*", "news.x", device: "a.b"))
    }

    @Test func theLiteralTextSubIsNotADevice() throws {
        #expect(try !allows("user.{sub}", "user.{sub}", device: "d-42"))
        #expect(try !allows("user.{sub}", "user.sub", device: "d-42"))
    }

    @Test(arguments: ["news", "news.*", "news.>", "*", ">", "user.{sub}.*", "{sub}", "a.*.b.>", "user-{sub}",
                      "A-Z_a:z@0.9", String(repeating: "a", count: 200), "news.s*", "news.*s", "user-42-*", "*-*.x",
                      "{sub}.*-inbox", "a*b*c.>"])
    func validPatterns(_ text: String) throws {
        #expect(try TopicPattern(text).description == text)
    }

    @Test(arguments: [
        "", "news.>.x", ">.x", "news.**", "news.a**b", "news.>>", "news.>x", "news.*>", "x>", "news sports", "news/sports",
        "nöws", "user.{device}", "user.{sub", "user.sub}", "{}", "news.#", String(repeating: "a", count: 201),
        "user.{sub}*", "user.*{sub}", "{sub}-*", "*.{sub}-*.x",
    ])
    func invalidPatternsAreRefused(_ text: String) {
        #expect(throws: TokenError.self, "\(text)") { try TopicPattern(text) }
    }

    @Test func theRefusalSaysWhatAPatternMayHold() {
        do {
            _ = try TopicPattern("news.>.x")
            Issue.record("accepted")
        } catch {
            #expect(error.message.hasPrefix("topic pattern \"news.>.x\""))
            #expect(error.message.contains("{sub}"))
        }
        // A long pattern is quoted in part only.
        do {
            _ = try TopicPattern(String(repeating: "x", count: 1000))
        } catch {
            #expect(error.message.count < 300)
        }
    }

    // MARK: The grant

    @Test func aGrantAllowsATopicWhenAnyPatternDoes() throws {
        let grant = DeviceGrant(device: "d-42", services: ["echo"], expiresAt: .distantFuture,
                                topics: [try pattern("news.*"), try pattern("user.{sub}.>")])
        #expect(grant.allows(topic: "news.sports"))
        #expect(grant.allows(topic: "user.d-42.inbox"))
        #expect(grant.allows(topic: "user.d-42.inbox.unread"))
        #expect(!grant.allows(topic: "user.d-43.inbox"))
        #expect(!grant.allows(topic: "news.sports.eu"))
        #expect(!grant.allows(topic: "weather"))
        // Topics and services are separate claims.
        #expect(!grant.allows(topic: "echo") && grant.allows("echo"))
    }

    @Test func aGrantWithoutPatternsAllowsNoTopic() {
        let grant = DeviceGrant(device: "d-42", services: ["*"], expiresAt: .distantFuture)
        #expect(grant.topics.isEmpty)
        for topic in ["news", "news.sports", "d-42", "*", ">"] {
            #expect(!grant.allows(topic: topic), "\(topic)")
        }
    }
}

/// Device tokens with the `topics` claim: minted, verified and turned into a grant.
@Suite struct DeviceTokenTopicsTests {
    let secret = String(repeating: "s", count: 32)

    func authority() async throws -> TokenAuthority {
        try await TokenAuthority(keys: [TokenKey(kid: "k1", material: .hs256(secret: secret))])
    }

    /// The JSON of a token's payload.
    func claims(_ token: String) throws -> [String: Any] {
        var part = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        while part.count % 4 != 0 { part += "=" }
        let data = try #require(Data(base64Encoded: part))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func patternsRoundTripThroughTheToken() async throws {
        let authority = try await authority()
        let token = try await authority.mint(device: "d-42", services: ["echo"], topics: ["news.*", "user.{sub}.>"],
                                             ttl: .seconds(60))
        #expect(try claims(token)["topics"] as? [String] == ["news.*", "user.{sub}.>"])
        let grant = try await authority.verify(token, device: "d-42")
        #expect(grant.topics == [try TopicPattern("news.*"), try TopicPattern("user.{sub}.>")])
        #expect(grant.allows(topic: "news.sports"))
        #expect(grant.allows(topic: "user.d-42.inbox"))
        #expect(!grant.allows(topic: "user.d-1.inbox"))
        #expect(!grant.allows(topic: "weather"))
    }

    @Test func aTokenWithoutTheClaimAllowsNoTopic() async throws {
        let authority = try await authority()
        let token = try await authority.mint(device: "d-42", services: ["*"], ttl: .seconds(60))
        #expect(try !claims(token).keys.contains("topics"), "no empty claim is written")
        let grant = try await authority.verify(token, device: "d-42")
        #expect(grant.topics.isEmpty)
        #expect(!grant.allows(topic: "news.sports"))
        #expect(grant.allows("anything"), "services still work")
    }

    @Test(arguments: ["news.>.x", "", "news sports", "news.**", "user.{device}", "user.{sub}-*"])
    func invalidPatternsAreRefusedAtMint(_ bad: String) async throws {
        let authority = try await authority()
        await #expect(throws: TokenError.self, "\(bad)") {
            try await authority.mint(device: "d-42", services: ["*"], topics: ["news.*", bad], ttl: .seconds(60))
        }
    }

    /// A token minted elsewhere (or by an older gateway) with a pattern this one cannot read: the pattern allows
    /// nothing, the others still work, and the token is not refused.
    @Test func anUnreadablePatternInAVerifiedTokenAllowsNothing() async throws {
        let claims = DeviceClaims(sub: .init(value: "d-42"), aud: .init(value: [TokenAuthority.defaultAudience]),
                                  iat: .init(value: Date()), exp: .init(value: Date().addingTimeInterval(60)), nbf: nil,
                                  services: ["echo"], topics: ["news.*", "bad pattern", "a.>.b", ">"])
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: "k1"))
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: "k1"))
        let grant = try await authority().verify(token, device: "d-42")
        #expect(grant.topics.map(\.description) == ["news.*", ">"])
        #expect(grant.allows(topic: "news.sports") && grant.allows(topic: "bad.x"))
    }

    @Test func theGrantUsesTheVerifiedDeviceForSub() async throws {
        let authority = try await authority()
        let token = try await authority.mint(device: "d-7", services: [], topics: ["user.{sub}"], ttl: .seconds(60))
        let grant = try await authority.verify(token, device: "d-7")
        #expect(grant.device == "d-7")
        #expect(grant.allows(topic: "user.d-7") && !grant.allows(topic: "user.d-42"))
    }
}
