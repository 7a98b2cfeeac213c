@testable import GatewayAPI
import Infrastructure
import Testing

/// The hex the API writes into message ids, idempotency keys and key fingerprints.
struct HexTextTests {
    @Test func bytesBecomeTwoLowerCaseDigitsEach() {
        #expect(HexText.of([UInt8]()) == "")
        #expect(HexText.of([0x00, 0x0F, 0xA5, 0xFF, 0x10]) == "000fa5ff10")
        let all = HexText.of((0...255).map { UInt8($0) })
        #expect(all.utf8.count == 512 && all.hasPrefix("000102") && all.hasSuffix("7f8081") == false && all.hasSuffix("fdfeff"))
        #expect(all.contains("7f80"))
    }

    /// Ids made for a send with an idempotency key are the ones a retry makes after an upgrade too: the value is the
    /// first 16 bytes of SHA-256 over fingerprint, key and device, as written by every version so far.
    @Test func anIdempotentMessageIDIsStable() {
        #expect(SendPlan.messageID(device: "phone-1", keyFingerprint: "0123456789ab", idempotencyKey: "retry-7")
                == "api-21a0a9ba926df599dbf8d56c0a6053e3")
    }

    @Test func randomIDsAreThirtyTwoHexDigitsAndDiffer() {
        let ids = (0..<1_000).map { _ in SendPlan.messageID(device: "d", keyFingerprint: "f", idempotencyKey: nil) }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.hasPrefix("api-") && id.utf8.count == 36)
            #expect(id.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) })
        }
        // Every digit position varies: no byte of the draw is left out or fixed.
        for position in 4..<36 {
            let digits = Set(ids.map { $0.utf8[$0.utf8.index($0.utf8.startIndex, offsetBy: position)] })
            #expect(digits.count > 8, "position \(position)")
        }
    }
}
