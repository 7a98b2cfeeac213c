import Testing

@testable import Lifecycle

@Suite("ThreadLife")
struct ThreadLifeTests {
    @Test func theThreadIsSpawnedOnceByTheFirstStart() {
        var life = ThreadLife<String>()
        #expect(life.phase == .idle)
        let first = life.start(), second = life.start()
        #expect(first && !second)
        #expect(life.phase == .running)
    }

    @Test func aStopWakesTheLoopOnceEvenBeforeTheStart() {
        var life = ThreadLife<String>()
        let first = life.requestStop(), second = life.requestStop()
        #expect(first && !second)
        #expect(life.stopRequested)
        let spawn = life.start()
        #expect(spawn, "a thread asked to stop before it started still runs its body, which returns at once")
    }

    @Test func aStopAfterTheBodyReturnedWakesNothing() {
        var life = ThreadLife<String>()
        _ = life.start()
        _ = life.bodyReturned()
        let wake = life.requestStop()
        #expect(!wake)
    }

    @Test func waitersAreResumedWhenTheBodyReturnsAndLateOnesAtOnce() {
        var life = ThreadLife<String>()
        _ = life.start()
        let first = life.reserveWaiter(), second = life.reserveWaiter()
        #expect(first != second)
        let waitsA = life.wait("a", id: first, cancelled: false)
        let waitsB = life.wait("b", id: second, cancelled: false)
        #expect(waitsA && waitsB)
        let resumed = life.bodyReturned()
        #expect(Set(resumed) == ["a", "b"])
        let late = life.reserveWaiter()
        let waitsLate = life.wait("c", id: late, cancelled: false)
        #expect(!waitsLate, "a waiter after the end is resumed at once")
        let again = life.bodyReturned()
        #expect(again.isEmpty, "each waiter is resumed once")
    }

    @Test func aCancelledWaiterIsTakenBackOrNeverRegistered() {
        var life = ThreadLife<String>()
        _ = life.start()
        let cancelledWaits = life.wait("a", id: life.reserveWaiter(), cancelled: true)
        #expect(!cancelledWaits)
        let other = life.reserveWaiter()
        let waits = life.wait("b", id: other, cancelled: false)
        #expect(waits)
        let taken = life.cancelWait(id: other), takenAgain = life.cancelWait(id: other)
        #expect(taken == "b" && takenAgain == nil)
        let resumed = life.bodyReturned()
        #expect(resumed.isEmpty)
    }
}
