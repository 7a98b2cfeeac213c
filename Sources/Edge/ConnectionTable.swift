/// Who holds connections to this edge: the open connections in all and per peer (``PeerKey``), and each peer's
/// connect-rate bucket. A plain value with the time passed in, so it is tested without sockets; ``ConnectionLimiter``
/// shares one across the event loops under a lock.
///
/// Guarantees: a connection is admitted only while the edge holds fewer than `maxConnections`, its peer fewer than
/// `maxPerPeer`, and the peer's connect bucket has a token; each admitted connection is released exactly once.
/// Memory stays bounded: a peer's entry is removed when its last connection closes, unless its connect bucket is
/// not yet full again (forgetting it then would let a peer reset its connect rate by closing and reconnecting); such
/// idle entries are dropped once full, in a sweep that runs when more than `maxIdlePeers` of them pile up. If most
/// are still recent then, all idle entries are dropped: memory wins over the connect rates of peers that currently
/// hold no connection.
struct ConnectionTable {
    struct Limits: Sendable, Equatable {
        var maxConnections: Int
        var maxPerPeer: Int
        var connectsPerSecond: Double
        var connectBurst: Int
        var maxIdlePeers: Int

        /// Why `refusal` happened, with the limit and the flag that sets it, for the log.
        func explain(_ refusal: Refusal) -> String {
            switch refusal {
            case .edgeFull: "the edge holds its maximum of \(maxConnections) connections (--max-connections)"
            case .peerConnections: "the IP holds its maximum of \(maxPerPeer) connections (--max-connections-per-ip)"
            case .peerConnectRate:
                "the IP connects faster than \(connectsPerSecond)/s after a burst of \(connectBurst) (--max-connects-per-ip-per-second)"
            }
        }
    }

    /// Why a connection was refused.
    enum Refusal: Error, Sendable, Hashable, CaseIterable {
        /// The edge holds its maximum number of connections.
        case edgeFull
        /// The peer holds its maximum number of connections.
        case peerConnections
        /// The peer connects faster than its connect rate.
        case peerConnectRate
    }

    private struct Peer {
        var open: Int
        var bucket: TokenBucket
    }

    let limits: Limits
    private var peers: [PeerKey: Peer] = [:]
    /// Connections admitted and not yet released.
    private(set) var open = 0
    /// Entries of peers with no open connection, kept for their connect buckets.
    private(set) var idlePeers = 0

    init(limits: Limits) {
        precondition(limits.maxConnections >= 0 && limits.maxPerPeer >= 1 && limits.maxIdlePeers >= 1)
        self.limits = limits
    }

    /// Peers the table holds an entry for.
    var peerCount: Int { peers.count }

    /// Admits one connection from `peer`, or says why not.
    /// - Returns: nil when admitted (then ``release(_:now:)`` must follow once), else the refusal.
    mutating func admit(_ peer: PeerKey, now: UInt64) -> Refusal? {
        guard open < limits.maxConnections else { return .edgeFull }
        let known = peers[peer]
        var entry = known ?? Peer(open: 0, bucket: TokenBucket(rate: limits.connectsPerSecond,
                                                               burst: limits.connectBurst, now: now))
        guard entry.open < limits.maxPerPeer else { return .peerConnections }
        guard entry.bucket.take(now: now) else {
            // Only a known peer can be out of tokens (a new bucket is full); keep what it spent.
            if known != nil { peers[peer] = entry }
            return .peerConnectRate
        }
        if known != nil && entry.open == 0 { idlePeers -= 1 }
        entry.open += 1
        peers[peer] = entry
        open += 1
        return nil
    }

    /// Releases a connection ``admit(_:now:)`` admitted.
    mutating func release(_ peer: PeerKey, now: UInt64) {
        guard var entry = peers[peer], entry.open > 0 else {
            assertionFailure("released a connection of \(peer) that was not admitted")
            return
        }
        entry.open -= 1
        open -= 1
        if entry.open > 0 {
            peers[peer] = entry
        } else if entry.bucket.isFull(now: now) {
            peers[peer] = nil
        } else {
            peers[peer] = entry
            idlePeers += 1
            if idlePeers > limits.maxIdlePeers { sweep(now: now) }
        }
    }

    /// Drops idle entries whose bucket is full again; if more than half the allowance is still recent, drops every
    /// idle entry, so that the next sweep is at least `maxIdlePeers / 2` releases away (each sweep costs one pass).
    private mutating func sweep(now: UInt64) {
        peers = peers.filter { $0.value.open > 0 || !$0.value.bucket.isFull(now: now) }
        idlePeers = peers.values.count(where: { $0.open == 0 })
        if idlePeers > limits.maxIdlePeers / 2 {
            peers = peers.filter { $0.value.open > 0 }
            idlePeers = 0
        }
    }
}
