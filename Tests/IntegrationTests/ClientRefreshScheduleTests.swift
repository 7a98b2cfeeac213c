@testable import ChannelClient
import Testing

/// When the Swift client refreshes its token and how it backs off (``TokenRefreshSchedule``), without sockets: the
/// wall clock and the jitter's randomness are passed in.
struct ClientRefreshScheduleTests {
    @Test func theLeadIsAFifthOfWhatRemainsBetweenOneAndSixtySeconds() {
        #expect(TokenRefreshSchedule.lead(remaining: 3600) == 60)
        #expect(TokenRefreshSchedule.lead(remaining: 300) == 60)
        #expect(TokenRefreshSchedule.lead(remaining: 100) == 20)
        #expect(TokenRefreshSchedule.lead(remaining: 5) == 1)
        #expect(TokenRefreshSchedule.lead(remaining: 2) == 1)
    }

    @Test func unpromptedTheRefreshComesHalfwayBetweenTheEdgesRefreshDueAndExp() {
        #expect(TokenRefreshSchedule.fallback(expiresAt: 1_000, now: 0) == 970)
        #expect(TokenRefreshSchedule.fallback(expiresAt: 1_000, now: 900) == 990)
        #expect(TokenRefreshSchedule.fallback(expiresAt: 1_000, now: 995) == 999.5)
        // The local clock says it expired (or runs ahead of the edge's): only the edge's refresh_due starts it.
        #expect(TokenRefreshSchedule.fallback(expiresAt: 1_000, now: 1_000) == nil)
        #expect(TokenRefreshSchedule.fallback(expiresAt: 1_000, now: 1_200) == nil)
    }

    @Test func retriesWaitBetweenHalfAndAllOfOneSecondDoublingToThirty() {
        let bounds = [1.0, 2, 4, 8, 16, 30, 30, 30]
        for (index, bound) in bounds.enumerated() {
            #expect(TokenRefreshSchedule.retryDelay(failures: index + 1, random: 0) == bound / 2)
            #expect(TokenRefreshSchedule.retryDelay(failures: index + 1, random: 0.999_999) < bound)
            #expect(TokenRefreshSchedule.retryDelay(failures: index + 1, random: 0.999_999) > bound * 0.99)
        }
        #expect(TokenRefreshSchedule.retryDelay(failures: 1_000, random: 0.5) == 22.5, "no overflow")
        #expect(TokenRefreshSchedule.retryDelay(failures: 0, random: 0) == 0.5)
    }

    @Test func theEdgesRefreshDueStartsARefreshAndAStaleOneDoesNot() {
        var schedule = TokenRefreshSchedule(expiresAt: 1_000, now: 700)
        #expect(schedule.nextAttempt == 970)
        #expect(starts(&schedule, .due(expiresAt: 1_000), now: 940))
        schedule.refreshed(expiresAt: 1_300, now: 941, random: 0.5)
        #expect(schedule.expiresAt == 1_300)
        #expect(schedule.nextAttempt == 1_270)
        // A refresh_due the edge sent for the old token before it read the refresh.
        #expect(!starts(&schedule, .due(expiresAt: 1_000), now: 942))
        #expect(starts(&schedule, .due(expiresAt: 1_300), now: 1_240))
    }

    @Test func theTimerCountsOnlyAtThePlannedTime() {
        var schedule = TokenRefreshSchedule(expiresAt: 1_000, now: 700)
        #expect(!starts(&schedule, .timer, now: 969), "a timer replaced by a later plan")
        #expect(starts(&schedule, .timer, now: 969.995), "a timer firing a few ms early")
        #expect(starts(&schedule, .timer, now: 975))
        // Without an expiry (an edge that does not say) there is no timer, only the edge's frame.
        var silent = TokenRefreshSchedule(expiresAt: nil, now: 700)
        #expect(silent.nextAttempt == nil)
        #expect(!starts(&silent, .timer, now: 10_000))
        #expect(starts(&silent, .due(expiresAt: 1_000), now: 950))
        #expect(silent.expiresAt == 1_000)
    }

    @Test func aFailureBacksOffAndARefreshDueWaitsForTheRetry() {
        var schedule = TokenRefreshSchedule(expiresAt: 1_000, now: 700)
        schedule.failed(now: 950, random: 0)
        #expect(schedule.failures == 1)
        #expect(schedule.nextAttempt == 950.5)
        #expect(!starts(&schedule, .due(expiresAt: 1_000), now: 950.2), "backing off")
        #expect(starts(&schedule, .timer, now: 950.5))
        schedule.failed(now: 951, random: 0)
        schedule.failed(now: 952, random: 0)
        #expect(schedule.nextAttempt == 954, "1 s, 2 s, then 4 s bounds: half of 4 with no jitter")
        #expect(starts(&schedule, .due(expiresAt: 1_000), now: 954))
        schedule.refreshed(expiresAt: 1_600, now: 955, random: 0)
        #expect(schedule.failures == 0)
        #expect(schedule.nextAttempt == 1_570)
    }

    @Test func aRefreshThatGainedNothingCountsAsAFailure() {
        var schedule = TokenRefreshSchedule(expiresAt: 1_000, now: 700)
        schedule.refreshed(expiresAt: 1_000, now: 960, random: 0)
        #expect(schedule.failures == 1)
        #expect(schedule.expiresAt == 1_000)
        #expect(schedule.nextAttempt == 960.5)
        #expect(!starts(&schedule, .due(expiresAt: 1_000), now: 960.1), "the edge's next refresh_due waits")
    }
}

/// ``TokenRefreshSchedule/shouldRefresh(_:now:)`` outside `#expect`, which cannot call a mutating method.
private func starts(_ schedule: inout TokenRefreshSchedule, _ trigger: TokenRefreshSchedule.Trigger, now: Double) -> Bool {
    schedule.shouldRefresh(trigger, now: now)
}
