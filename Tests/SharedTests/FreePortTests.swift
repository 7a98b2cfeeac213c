import DevCluster
import Testing

/// Ports for test servers come from below the ephemeral range, where outgoing connections cannot take them before
/// the server binds, and one process never gets the same port twice.
@Suite struct FreePortTests {
    @Test func portsAreBelowTheEphemeralRangeFreeAndNeverRepeated() throws {
        let single = try (0..<50).map { _ in try FreePort.next() }
        #expect(single.allSatisfy { (30_000..<32_768).contains($0) })
        let first = try FreePort.consecutive(3, from: single[0] - 1)
        let runs = [first, first + 1, first + 2]
        #expect(first >= single[0] - 1)
        let all = single + runs
        #expect(Set(all).count == all.count, "never handed out twice")
        #expect(all.allSatisfy(FreePort.isFree))
    }

    @Test func reservedPortsAreNeverHandedOut() throws {
        var base = Int.random(in: 20_000..<29_000)
        while !(base..<base + 4).allSatisfy(FreePort.isFree) { base += 4 }
        FreePort.reserve(base..<base + 4)
        let picked = try FreePort.consecutive(2, from: base)
        #expect(picked >= base + 4, "the reserved ports were free, yet none of them may be handed out")
    }
}
