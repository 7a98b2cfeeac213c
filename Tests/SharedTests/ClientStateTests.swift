import Logging
import Testing

@testable import Infrastructure

@Suite("Client state machines")
struct ClientStateTests {
    @Test func redisBacksOffFrom50msTo2sAndResetsOnConnect() {
        let start = ContinuousClock.now
        var schedule = RedisReconnectSchedule(now: start)
        #expect(schedule.mayConnect(at: start, probe: false))
        var now = start
        var waits: [Duration] = []
        for _ in 0..<8 {
            _ = schedule.failed("refused", at: now)
            waits.append(schedule.nextAttempt - now)
            #expect(!schedule.mayConnect(at: now, probe: false))
            #expect(schedule.mayConnect(at: now, probe: true), "a probe may always try")
            now = schedule.nextAttempt
            #expect(schedule.mayConnect(at: now, probe: false))
        }
        #expect(waits == [.milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400),
                          .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2)])
        #expect(schedule.lastError == "refused")
        let failedBefore = schedule.connected()
        #expect(failedBefore == 8, "a reconnect after 8 failures")
        _ = schedule.failed("refused", at: now)
        #expect(schedule.nextAttempt - now == .milliseconds(50), "the backoff starts over")
    }

    @Test func redisLogsTheFirstFailureAndThenAboutOnceAMinute() {
        var schedule = RedisReconnectSchedule(now: .now)
        var levels: [Logger.Level] = []
        for _ in 1...61 { levels.append(schedule.failed("down", at: .now)) }
        #expect(levels.indices.filter { levels[$0] == .warning } == [0, 30, 60])
    }

    @Test func aLostConnectionMayReconnectAtOnce() {
        let now = ContinuousClock.now
        var schedule = RedisReconnectSchedule(now: now)
        _ = schedule.failed("refused", at: now)
        _ = schedule.failed("refused", at: now)
        schedule.lost("reset by peer", at: now)
        #expect(schedule.mayConnect(at: now, probe: false))
        #expect(schedule.lastError == "reset by peer")
        _ = schedule.failed("refused", at: now)
        #expect(schedule.nextAttempt - now == .milliseconds(50))
    }

    @Test func aProducerClosesOnceWithTheFirstDeadline() {
        var state = ProducerState(first: "g1")
        #expect(state.takesRecords)
        let first = ContinuousClock.now + .seconds(10)
        let flushUntil = state.close(flushUntil: first)
        #expect(flushUntil == first)
        #expect(!state.takesRecords)
        let later = state.close(flushUntil: .now)
        #expect(later == nil, "a later close keeps the first deadline")
        #expect(state.phase == .closing(flushUntil: first))
    }

    @Test func aFailedGenerationIsReplacedOnceAndRetired() throws {
        var state = ProducerState(first: "g1")
        #expect(state.fatal(in: 1, because: "fenced") == 2)
        #expect(state.fatal(in: 1, because: "fenced") == nil, "one replacement per failed generation")
        #expect(state.takesRecords, "records still go to the failed generation, which refuses them at once")
        guard case .retire(let failed) = state.replaced(by: "g2") else { Issue.record("not retired"); return }
        #expect(failed == "g1")
        #expect(state.current == "g2" && state.number == 2 && state.phase == .open)
        #expect(state.fatal(in: 1, because: "fenced") == nil, "a late report of a retired generation changes nothing")
        #expect(state.fatal(in: 2, because: "fenced") == 3)
        #expect(state.all == ["g1", "g2"], "the replacement under way is not listed until made")
    }

    @Test func aReplacementMadeWhileClosingIsStoppedAtOnceAndWaitedFor() {
        var state = ProducerState(first: "g1")
        #expect(state.fatal(in: 1, because: "fenced") == 2)
        #expect(state.close(flushUntil: .now) != nil)
        guard case .stopAtOnce = state.replaced(by: "g2") else { Issue.record("used while closing"); return }
        #expect(state.current == "g1")
        #expect(Set(state.all) == ["g1", "g2"], "the shutdown waits for both")
        #expect(state.fatal(in: 1, because: "fenced") == nil, "no replacement once closing")
    }

    @Test func aReplacementThatCouldNotBeMadeIsAskedForAgain() {
        var state = ProducerState(first: "g1")
        #expect(state.fatal(in: 1, because: "fenced") == 2)
        state.replacementFailed("out of memory")
        #expect(state.phase == .open && state.current == "g1")
        #expect(state.fatal(in: 1, because: "fenced") == 2, "the next refused send asks again")
    }

    @Test func aProducerIsFailedFromItsFailureUntilItsReplacementIsCurrent() {
        var state = ProducerState(first: "g1")
        #expect(state.failure == nil && state.replacements == 0)
        #expect(state.fatal(in: 1, because: "PRODUCER_FENCED") == 2)
        #expect(state.failure == "failed (PRODUCER_FENCED); replacing it")
        #expect(state.awaitingReplacement == nil, "a replacement is under way")
        state.replacementFailed("out of memory")
        #expect(state.failure == "failed (PRODUCER_FENCED); cannot replace it: out of memory", "still failed")
        #expect(state.awaitingReplacement?.generation == 1 && state.awaitingReplacement?.reason == "PRODUCER_FENCED")
        #expect(state.fatal(in: 1, because: "PRODUCER_FENCED") == 2, "asked again")
        #expect(state.failure == "failed (PRODUCER_FENCED); replacing it")
        _ = state.replaced(by: "g2")
        #expect(state.failure == nil && state.replacements == 1 && state.awaitingReplacement == nil)
        #expect(state.fatal(in: 1, because: "late report") == nil)
        #expect(state.failure == nil, "a late report of a retired generation does not fail the producer")
    }
}
