import Foundation
import Shared
import Testing

/// Which verified tokens a revocation stops (docs/security.md, "Revocation"): by device, by device and `iat`, by key,
/// and none once the rule lapsed.
@Suite("Revocation")
struct RevocationTests {
    /// A grant of `device`, issued at `iat` (Unix seconds, possibly fractional) by key `kid`.
    func grant(_ device: String = "d-1", iat: Double = 1_000, kid: String = "k1") -> DeviceGrant {
        DeviceGrant(device: device, services: ["*"], expiresAt: Date(timeIntervalSince1970: iat + 3600),
                    issuedAt: Date(timeIntervalSince1970: iat), keyID: kid)
    }

    @Test func aDeviceRuleStopsEveryTokenOfThatDeviceOnly() {
        let rule = Revocation(target: .device("d-1"), createdAt: 900)
        #expect(rule.revokes(grant(iat: 0), now: 2_000))
        #expect(rule.revokes(grant(iat: 1_999), now: 2_000))
        #expect(rule.revokes(grant(iat: 5_000), now: 2_000), "a token minted after the rule is stopped too")
        #expect(!rule.revokes(grant("d-2"), now: 2_000))
        #expect(!rule.revokes(grant("d-10"), now: 2_000), "ids are compared whole")
        #expect(!rule.revokes(grant("D-1"), now: 2_000), "ids are case-sensitive")
    }

    @Test func issuedBeforeStopsTokensIssuedAtOrBeforeItInWholeSeconds() {
        let rule = Revocation(target: .device("d-1"), issuedBefore: 1_000, createdAt: 1_000)
        #expect(rule.revokes(grant(iat: 999), now: 2_000))
        #expect(rule.revokes(grant(iat: 1_000), now: 2_000), "the boundary itself is stopped")
        #expect(rule.revokes(grant(iat: 1_000.9), now: 2_000), "a token minted in the rule's second is stopped")
        #expect(!rule.revokes(grant(iat: 1_001), now: 2_000), "one second later passes")
        #expect(!rule.revokes(grant("d-2", iat: 10), now: 2_000))
    }

    @Test func aKeyRuleStopsEveryTokenOfThatKeyWhateverTheDevice() {
        let rule = Revocation(target: .key("k1"), createdAt: 900)
        #expect(rule.revokes(grant("d-1", kid: "k1"), now: 2_000))
        #expect(rule.revokes(grant("other", iat: 9_999, kid: "k1"), now: 2_000))
        #expect(!rule.revokes(grant("d-1", kid: "k2"), now: 2_000))
        #expect(!rule.revokes(grant("k1", kid: "k2"), now: 2_000), "a device named like the key is not the key")
        #expect(!Revocation(target: .device("k1"), createdAt: 0).revokes(grant("d-1", kid: "k1"), now: 2_000),
                "a device rule never matches by key")
    }

    @Test func aRuleLapsesAtItsUntil() {
        let device = Revocation(target: .device("d-1"), until: 2_000, createdAt: 900)
        let key = Revocation(target: .key("k1"), until: 2_000, createdAt: 900)
        for rule in [device, key] {
            #expect(rule.revokes(grant(), now: 1_999))
            #expect(!rule.revokes(grant(), now: 2_000), "lapsed at until")
            #expect(!rule.revokes(grant(), now: 3_000))
        }
    }

    @Test func theSetFindsTheRuleByDeviceOrByKey() {
        let set = RevocationSet([
            Revocation(target: .device("d-1"), issuedBefore: 1_000, createdAt: 1),
            Revocation(target: .key("old"), reason: "leaked", createdAt: 2),
            Revocation(target: .device("gone"), until: 1_500, createdAt: 3),
        ])
        #expect(set.revocation(of: grant("d-1", iat: 900), now: 2_000)?.target == .device("d-1"))
        #expect(set.revocation(of: grant("d-1", iat: 1_100), now: 2_000) == nil)
        #expect(set.revocation(of: grant("d-1", iat: 1_100, kid: "old"), now: 2_000)?.reason == "leaked",
                "a device rule that does not match leaves the key rule to match")
        #expect(set.revocation(of: grant("gone"), now: 1_499) != nil)
        #expect(set.revocation(of: grant("gone"), now: 1_500) == nil)
        #expect(RevocationSet().isEmpty && set.revocation(of: grant("x"), now: 0) == nil)
    }

    @Test func rulesRoundTripThroughTheirJSONAndNameTheirHashField() throws {
        let rules = [
            Revocation(target: .device("d-1"), issuedBefore: 1_733_472_000, until: 1_733_558_400, reason: "stolen", createdAt: 1_733_472_001),
            Revocation(target: .key("k1"), createdAt: 5),
        ]
        for rule in rules {
            #expect(try JSONDecoder().decode(Revocation.self, from: JSONEncoder().encode(rule)) == rule)
        }
        #expect(rules.map(\.field) == ["device:d-1", "kid:k1"])
        let stored = try JSONDecoder().decode(Revocation.self, from: Data(#"{"kid":"k2"}"#.utf8))
        #expect(stored == Revocation(target: .key("k2"), createdAt: 0), "reason and createdAt default")
        let text = String(decoding: try JSONEncoder().encode(rules[1]), as: UTF8.self)
        #expect(!text.contains("issuedBefore") && !text.contains("until"), "unset fields are left out: \(text)")
    }
}
