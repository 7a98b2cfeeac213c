@testable import Edge
import Testing

@Suite struct DrainPlanTests {
    func settings(rate: Int, deadline: Int, margin: Int = 3) -> DrainSettings {
        var s = DrainSettings()
        s.rate = rate
        s.deadline = .seconds(deadline)
        s.finalMargin = .seconds(margin)
        return s
    }

    @Test func keepsTheConfiguredRateWhenItFitsTheDeadline() {
        let plan = DrainPlan(devices: 2_000, settings: settings(rate: 1_000, deadline: 30))
        #expect(plan.rate == 1_000)
        #expect(plan.perWave == 100)
        #expect(plan.waves == 20)
    }

    @Test func raisesTheRateJustEnoughToFinishBeforeTheMargin() {
        let plan = DrainPlan(devices: 100_000, settings: settings(rate: 1_000, deadline: 30))
        #expect(plan.rate == 3_704)   // 100,000 devices over the 27 s before the margin
        #expect(Double(plan.waves) * 0.1 <= 27)
    }

    @Test func everyDeviceIsToldExactlyOnce() {
        for devices in [0, 1, 99, 100, 101, 12_345] {
            let plan = DrainPlan(devices: devices, settings: settings(rate: 1_000, deadline: 30))
            let told = (0..<plan.waves).flatMap { Array(plan.wave($0)) }
            #expect(told == Array(0..<devices))
        }
    }

    @Test func aZeroDeadlineStillTellsEveryoneQuickly() {
        let plan = DrainPlan(devices: 5_000, settings: settings(rate: 10, deadline: 0, margin: 0))
        #expect(plan.rate == 50_000)   // all within the shortest window the plan allows (0.1 s)
        #expect(plan.waves == 1)
    }
}
