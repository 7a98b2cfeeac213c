import Testing
@testable import Edge

/// The token bucket on its own, with the clock passed in: burst, rate, refill cap and a clock that steps back.
@Suite struct TokenBucketTests {
    static let second: UInt64 = 1_000_000_000
    let start: UInt64 = 5 * second

    @Test func allowsTheBurstAtOnceThenRefuses() {
        var bucket = TokenBucket(rate: 50, burst: 100, now: start)
        let allowed = (0..<150).filter { _ in bucket.take(now: start) }.count
        let after = bucket.take(now: start)
        #expect(allowed == 100 && !after)
    }

    @Test func refillsAtTheRate() {
        var bucket = TokenBucket(rate: 50, burst: 100, now: start)
        for _ in 0..<100 { _ = bucket.take(now: start) }
        // 100 ms at 50/s is 5 tokens.
        let later = start + Self.second / 10
        let allowed = (0..<10).filter { _ in bucket.take(now: later) }.count
        let after = bucket.take(now: later)
        #expect(allowed == 5 && !after)
    }

    @Test func neverHoldsMoreThanTheBurst() {
        var bucket = TokenBucket(rate: 50, burst: 100, now: start)
        let muchLater = start + 3600 * Self.second
        #expect(bucket.isFull(now: muchLater))
        #expect((0..<1000).filter { _ in bucket.take(now: muchLater) }.count == 100)
    }

    @Test func aSteadySenderAtTheRateIsNeverRefused() {
        var bucket = TokenBucket(rate: 50, burst: 1, now: start)
        // One message every 20 ms for ten seconds: exactly the rate, with no burst to spare.
        let refused = (1...500).filter { !bucket.take(now: start + UInt64($0) * Self.second / 50) }.count
        #expect(refused == 0)
    }

    @Test func overAnySpanAllowsAtMostBurstPlusRateTimesSpan() {
        var bucket = TokenBucket(rate: 10, burst: 20, now: start)
        // A sender trying every millisecond for 3 s gets 20 + 10 × 3.
        let allowed = (0...3000).filter { bucket.take(now: start + UInt64($0) * Self.second / 1000) }.count
        #expect(allowed == 50)
    }

    @Test func aClockThatStepsBackAddsNothing() {
        var bucket = TokenBucket(rate: 1, burst: 1, now: start)
        let results = [bucket.take(now: start), bucket.take(now: start - Self.second),
                       bucket.take(now: start + Self.second / 2), bucket.take(now: start + Self.second)]
        #expect(results == [true, false, false, true])
    }

    @Test func isFullOnlyOnceRefilled() {
        var bucket = TokenBucket(rate: 2, burst: 4, now: start)
        #expect(bucket.isFull(now: start))
        _ = bucket.take(now: start)
        _ = bucket.take(now: start)
        #expect(!bucket.isFull(now: start + Self.second / 2))
        #expect(bucket.isFull(now: start + Self.second))
    }
}
