import Foundation
import Lifecycle
import ServiceLifecycle
import Testing

@Suite("DedicatedThread, RecurringWork and Gathering")
struct DedicatedThreadTests {
    final class Count: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add() { lock.withLock { value += 1 } }
        var current: Int { lock.withLock { value } }
    }

    @Test func aStopWakesAPauseAtOnceAndJoinSeesTheEnd() async throws {
        let loops = Count()
        let thread = DedicatedThread(name: "test-loop") { thread in
            while !thread.pause(for: .seconds(60)) { loops.add() }
        }
        thread.start()
        thread.start()
        let started = ContinuousClock.now
        thread.requestStop()
        #expect(await thread.finished(within: .seconds(5)))
        #expect(ContinuousClock.now - started < .seconds(30), "the pause of 60 s ended with the stop request")
        #expect(loops.current == 0)
        #expect(thread.join(timeout: .zero))
    }

    @Test func waitingIsBoundedWhenTheBodyDoesNotReturn() async throws {
        let release = Gathering<Bool>(count: 1)
        let thread = DedicatedThread(name: "stuck") { _ in _ = release.wait(until: .now + .seconds(30)) }
        thread.start()
        thread.requestStop()
        #expect(!(await thread.finished(within: .milliseconds(100))), "the body ignores stop requests")
        #expect(!thread.join(timeout: .milliseconds(50)))
        release.put(true, at: 0)
        #expect(await thread.finished(within: .seconds(5)))
    }

    @Test func asAServiceItStopsWithTheGroup() async throws {
        let thread = DedicatedThread(name: "service-loop") { thread in
            while !thread.isStopRequested { thread.pause(for: .milliseconds(10)) }
        }
        thread.start()
        let group = ServiceGroup(services: [thread], logger: .init(label: "test"))
        async let running: Void = group.run()
        await group.triggerGracefulShutdown()
        try await running
        #expect(thread.join(timeout: .zero))
    }

    @Test func aThreadNeverStartedDoesNotHoldUpTheGroup() async throws {
        let thread = DedicatedThread(name: "never-started", stopLimit: .seconds(30)) { _ in }
        let group = ServiceGroup(services: [thread], logger: .init(label: "test"))
        async let running: Void = group.run()
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running
        #expect(ContinuousClock.now - started < .seconds(25), "not the stop limit of 30 s")
    }

    @Test func recurringWorkRunsAtOnceThenEveryIntervalAndSurvivesErrors() async throws {
        struct Failure: Error {}
        let runs = Count()
        let work = RecurringWork(name: "recurring", every: .milliseconds(20), logger: .init(label: "test")) {
            runs.add()
            if runs.current % 2 == 0 { throw Failure() }
        }
        let group = ServiceGroup(services: [work], logger: .init(label: "test"))
        async let running: Void = group.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while runs.current < 5 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        await group.triggerGracefulShutdown()
        try await running
        let stopped = runs.current
        #expect(stopped >= 5, "errors do not end the runs")
        try await Task.sleep(for: .milliseconds(100))
        #expect(runs.current == stopped, "no run after the stop")
    }

    @Test func gatheringKeepsTheFirstValueAndCompletesOnce() {
        let completions = Count()
        let gathering = Gathering<Int>(count: 2) { values in
            #expect(values == [1, 2])
            completions.add()
        }
        gathering.put(1, at: 0)
        gathering.put(9, at: 0)
        #expect(gathering.wait(until: .now) == [1, nil], "the deadline passed with one slot empty")
        gathering.put(2, at: 1)
        gathering.put(3, at: 1)
        #expect(gathering.wait(until: .now + .seconds(1)) == [1, 2])
        #expect(completions.current == 1)
    }

    @Test func offloadRunsOnAThreadOfItsOwn() async throws {
        let value = try await offload { Thread.isMainThread ? -1 : 42 }
        #expect(value == 42)
        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await offload { throw Failure() } }
    }

    @Test func oneDurationConversion() {
        #expect(Duration.milliseconds(1500).inMilliseconds == 1500)
        #expect(Duration.microseconds(999).inMilliseconds == 0)
        #expect(Duration.seconds(2).inSeconds == 2)
        #expect(Duration.seconds(Int64.max).inNanoseconds == .max, "saturates")
        #expect(Duration.seconds(-Int64.max).inNanoseconds == .min)
        #expect(Duration.milliseconds(5).timeAmount == .milliseconds(5))
    }
}
