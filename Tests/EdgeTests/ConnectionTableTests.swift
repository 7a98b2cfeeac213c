import NIOCore
import Testing
@testable import Edge

/// The per-IP and per-edge connection table on its own, with the clock passed in; and how peers are keyed.
@Suite struct ConnectionTableTests {
    static let second: UInt64 = 1_000_000_000
    let t0: UInt64 = 100 * second
    let a = PeerKey(ipv4: 0x0A00_0001)  // 10.0.0.1
    let b = PeerKey(ipv4: 0x0A00_0002)

    func table(edge: Int = 100, perPeer: Int = 3, rate: Double = 1000, burst: Int = 1000, idle: Int = 100) -> ConnectionTable {
        ConnectionTable(limits: .init(maxConnections: edge, maxPerPeer: perPeer, connectsPerSecond: rate,
                                      connectBurst: burst, maxIdlePeers: idle))
    }

    @Test func capsConnectionsPerPeerAndFreesASlotOnRelease() {
        var t = table(perPeer: 3)
        for _ in 0..<3 { #expect(t.admit(a, now: t0) == nil) }
        #expect(t.admit(a, now: t0) == .peerConnections)
        #expect(t.admit(b, now: t0) == nil, "another peer is not affected")
        t.release(a, now: t0)
        #expect(t.admit(a, now: t0) == nil)
        #expect(t.open == 4)
    }

    @Test func capsConnectionsPerEdge() {
        var t = table(edge: 2, perPeer: 10)
        #expect(t.admit(a, now: t0) == nil)
        #expect(t.admit(b, now: t0) == nil)
        #expect(t.admit(PeerKey(ipv4: 3), now: t0) == .edgeFull)
        #expect(t.peerCount == 2, "a refused peer leaves no entry")
        t.release(b, now: t0)
        #expect(t.admit(PeerKey(ipv4: 3), now: t0) == nil)
    }

    @Test func limitsTheConnectRatePerPeer() {
        var t = table(perPeer: 100, rate: 2, burst: 3)
        #expect((0..<5).map { _ in t.admit(a, now: t0) } == [nil, nil, nil, .peerConnectRate, .peerConnectRate])
        #expect(t.admit(b, now: t0) == nil)
        #expect(t.admit(a, now: t0 + Self.second / 2) == nil, "half a second at 2/s is one more")
        #expect(t.admit(a, now: t0 + Self.second / 2) == .peerConnectRate)
    }

    @Test func entriesGoWhenTheLastConnectionClosesAndTheBucketIsFull() {
        var t = table(rate: 1000, burst: 1000)
        #expect(t.admit(a, now: t0) == nil)
        #expect(t.admit(a, now: t0) == nil)
        t.release(a, now: t0 + Self.second)
        #expect(t.peerCount == 1)
        t.release(a, now: t0 + Self.second)
        #expect(t.peerCount == 0 && t.open == 0 && t.idlePeers == 0)
    }

    @Test func closingAndReconnectingDoesNotResetTheConnectRate() {
        var t = table(rate: 1, burst: 2)
        #expect(t.admit(a, now: t0) == nil)
        t.release(a, now: t0)
        #expect(t.admit(a, now: t0) == nil)
        t.release(a, now: t0)
        #expect(t.idlePeers == 1, "kept: its bucket is not full again")
        #expect(t.admit(a, now: t0) == .peerConnectRate)
        #expect(t.admit(a, now: t0 + Self.second) == nil)
        #expect(t.idlePeers == 0)
    }

    @Test func idleEntriesStayBounded() {
        var t = table(edge: 1_000_000, rate: 0.001, burst: 1, idle: 100)
        // Ten thousand peers connect once and leave; none of their buckets refills in this test's time.
        for i in 0..<10_000 {
            let peer = PeerKey(ipv4: UInt32(i))
            #expect(t.admit(peer, now: t0) == nil)
            t.release(peer, now: t0)
            #expect(t.idlePeers <= 100 && t.peerCount <= 100)
        }
        // Peers with open connections are never dropped by a sweep.
        var u = table(edge: 1_000_000, rate: 0.001, burst: 1, idle: 10)
        #expect(u.admit(a, now: t0) == nil)
        for i in 10..<1000 {
            let peer = PeerKey(ipv4: UInt32(i))
            _ = u.admit(peer, now: t0)
            u.release(peer, now: t0)
        }
        #expect(u.admit(a, now: t0 + 1) == .peerConnectRate, "a's entry and its spent bucket are still there")
        #expect(u.open == 1)
    }

    @Test func refusalsAreCountedAndLoggedAtMostOncePerInterval() {
        let limiter = ConnectionLimiter(limits: .init(maxConnections: 1, maxPerPeer: 1, connectsPerSecond: 1000,
                                                      connectBurst: 1000, maxIdlePeers: 10))
        #expect(limiter.admit(a, now: t0) == .admitted)
        #expect(limiter.admit(b, now: t0) == .refused(.edgeFull, report: 1))
        #expect(limiter.admit(b, now: t0 + Self.second) == .refused(.edgeFull, report: nil))
        #expect(limiter.admit(b, now: t0 + 2 * Self.second) == .refused(.edgeFull, report: nil))
        #expect(limiter.admit(b, now: t0 + 11 * Self.second) == .refused(.edgeFull, report: 3))
        #expect(limiter.refused == [.edgeFull: 4])
        limiter.release(a, now: t0 + 12 * Self.second)
        #expect(limiter.admit(b, now: t0 + 12 * Self.second) == .admitted)
        #expect(limiter.open == 1)
    }

    @Test func peersAreKeyedByIPv4AddressOrIPv6Slash64() throws {
        let v4 = try SocketAddress(ipAddress: "192.0.2.7", port: 1)
        let mapped = try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 2)
        #expect(PeerKey(v4) == PeerKey(mapped))
        #expect(PeerKey(v4).description == "192.0.2.7")
        let one = try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)
        let sameNet = try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 1)
        let otherNet = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        #expect(PeerKey(one) == PeerKey(sameNet))
        #expect(PeerKey(one) != PeerKey(otherNet))
        #expect(PeerKey(one).description == "2001:db8:1:2::/64")
        #expect(PeerKey(try SocketAddress(unixDomainSocketPath: "/tmp/x")) == .unknown)
        #expect(PeerKey(ipv4: 0) != PeerKey(try SocketAddress(ipAddress: "::", port: 1)))
    }
}
