import Infrastructure
import Shared
import Testing
@testable import Router

/// ``DownstreamRouter/entry(for:nowMs:)``: a record's expiry (docs/guarantees.md, "TTL").
@Suite struct MailboxEntryTTLTests {
    let test = TestRouter { $0.defaultTTLSeconds = 600; $0.maxTTLSeconds = 3600 }
    let sentAt: Int64 = 1_700_000_000_000
    let now: Int64 = 1_700_000_100_000

    func expiry(ttl: Int64? = nil, timestampMs: Int64?, header: String? = nil) -> Int64? {
        var record = TestRouter.record("d-1", id: "m-1", ttl: ttl, timestampMs: timestampMs)
        if let header { record.headers.append(KafkaHeader("ttl", header)) }
        return test.router.entry(for: record, nowMs: now)?.entry.expiresAtMs
    }

    @Test func withoutAnIntegerTTLTheDefaultApplies() {
        #expect(expiry(timestampMs: sentAt) == sentAt + 600_000)
        #expect(expiry(timestampMs: sentAt, header: "ten") == sentAt + 600_000)
        #expect(expiry(timestampMs: sentAt, header: "1.5") == sentAt + 600_000)
    }

    @Test func theTTLIsCappedAtTheMaximum() {
        #expect(expiry(ttl: 7200, timestampMs: sentAt) == sentAt + 3_600_000)
        #expect(expiry(ttl: .max, timestampMs: sentAt) == sentAt + 3_600_000)
        #expect(expiry(ttl: 30, timestampMs: sentAt) == sentAt + 30_000)
    }

    @Test func zeroOrLessHasExpiredAlready() {
        for ttl: Int64 in [0, -1, .min] {
            let expires = expiry(ttl: ttl, timestampMs: sentAt)
            #expect(expires == sentAt, "ttl \(ttl)")
            #expect((expires ?? .max) <= now)
        }
    }

    @Test func theRecordsTimestampAnchorsTheExpiryAndNowStandsInWithoutOne() {
        #expect(expiry(ttl: 60, timestampMs: sentAt) == sentAt + 60_000)
        #expect(expiry(ttl: 60, timestampMs: nil) == now + 60_000)
        // Routed again later, the same record keeps its expiry.
        let record = TestRouter.record("d-1", id: "m-1", ttl: 60, timestampMs: sentAt)
        #expect(test.router.entry(for: record, nowMs: now + 3_600_000)?.entry.expiresAtMs == sentAt + 60_000)
    }

    @Test func theEntryCarriesTheRecordsMessage() throws {
        let record = TestRouter.record("d-1", id: "m-1", service: "push", ttl: 60, timestampMs: sentAt)
        let (device, entry) = try #require(test.router.entry(for: record, nowMs: now))
        #expect(device == "d-1")
        #expect(entry.id == "m-1" && entry.service == "push" && entry.contentType == "application/json")
        #expect(entry.payload == record.value)
    }

    /// A producer may set any timestamp: one near Int64.max used to trap, stopping every router that took its partition.
    @Test func aTimestampFarInTheFutureDoesNotCrashTheRouter() {
        #expect(expiry(ttl: 60, timestampMs: .max - 1_000) == .max)
        #expect(expiry(ttl: 60, timestampMs: .min + 1_000) != nil)
    }
}
