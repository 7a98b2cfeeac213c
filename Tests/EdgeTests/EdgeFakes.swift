import Infrastructure
import NIOConcurrencyHelpers
import NIOCore
import Shared
import TestDoubles
@testable import Edge

// Fakes of the edge's Redis-facing clients (EdgeStores.swift); the producer and hand-off fakes are in TestDoubles.
// Each records its calls; a mailbox read is answered by the test, on the loop the connection named. A read still
// open when the fake is freed is failed, so that a test that stops early cannot leak a promise.

/// The device registry: claims get the epochs the test lines up, releases are recorded.
final class FakeRoutes: RouteRegistry {
    struct Claim: Sendable, Equatable {
        let device: String, edge: String, session: String
    }

    private struct State {
        var claims: [Claim] = []
        var releases: [Claim] = []
        var epochs: [Int64] = []
        var lastEpoch: Int64 = 0
        var replaced: DeviceRoute?
        var failing = false
        var records: [String: EdgeRecord] = [:]
        /// Claims wait here until the test lets them go; nil: they go at once.
        var held: [CheckedContinuation<Void, Never>]?
        /// Who waits for a claim to be held, or for a release.
        var claimWatchers: [CheckedContinuation<Void, Never>] = []
        var releaseWatchers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    func claim(device: String, edge: String, session: String) async throws -> (route: DeviceRoute, replaced: DeviceRoute?) {
        await withCheckedContinuation { (go: CheckedContinuation<Void, Never>) in
            let watchers = state.withLockedValue { state -> [CheckedContinuation<Void, Never>]? in
                guard state.held != nil else { return nil }
                state.held?.append(go)
                defer { state.claimWatchers = [] }
                return state.claimWatchers
            }
            guard let watchers else { return go.resume() }
            for watcher in watchers { watcher.resume() }
        }
        return try state.withLockedValue { state in
            state.claims.append(Claim(device: device, edge: edge, session: session))
            if state.failing { throw RedisError(message: "redis is down", isConnectionError: true) }
            let epoch = state.epochs.isEmpty ? state.lastEpoch + 1 : state.epochs.removeFirst()
            state.lastEpoch = epoch
            defer { state.replaced = nil }
            return (DeviceRoute(edge: edge, session: session, epoch: epoch, sinceMs: 0), state.replaced)
        }
    }

    func release(device: String, session: String, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let watchers = state.withLockedValue { state in
            state.releases.append(Claim(device: device, edge: "", session: session))
            defer { state.releaseWatchers = [] }
            return state.releaseWatchers
        }
        for watcher in watchers { watcher.resume() }
        return eventLoop.makeSucceededFuture(true)
    }

    func edgeRecord(_ edge: String) async throws -> EdgeRecord? { state.withLockedValue { $0.records[edge] } }

    var claims: [Claim] { state.withLockedValue { $0.claims } }
    /// (device, session) of every release; `edge` is empty.
    var releases: [Claim] { state.withLockedValue { $0.releases } }

    /// The epochs the next claims get, in order; after them, one more than the last.
    func nextEpochs(_ epochs: [Int64]) { state.withLockedValue { $0.epochs = epochs } }

    /// The route the next claim replaces (the device's earlier connection).
    func nextClaimReplaces(_ route: DeviceRoute) { state.withLockedValue { $0.replaced = route } }

    /// Every claim throws, as when Redis is unreachable.
    func failClaims() { state.withLockedValue { $0.failing = true } }

    /// Claims wait from now on until ``letClaimsGo()``.
    func holdClaims() { state.withLockedValue { $0.held = $0.held ?? [] } }

    /// Returns once a claim is waiting (the hello's task runs off the loop).
    func claimHeld() async {
        await withCheckedContinuation { watcher in
            let waiting = state.withLockedValue { state in
                if state.held?.isEmpty == false { return true }
                state.claimWatchers.append(watcher)
                return false
            }
            if waiting { watcher.resume() }
        }
    }

    /// Lets every waiting claim go, and the later ones at once.
    func letClaimsGo() {
        let held = state.withLockedValue { state in
            defer { state.held = nil }
            return state.held ?? []
        }
        for claim in held { claim.resume() }
    }

    /// Returns once `count` releases were asked for.
    func released(count: Int) async {
        while state.withLockedValue({ $0.releases.count < count }) {
            await withCheckedContinuation { watcher in
                let done = state.withLockedValue { state in
                    if state.releases.count >= count { return true }
                    state.releaseWatchers.append(watcher)
                    return false
                }
                if done { watcher.resume() }
            }
        }
    }

    func setRecord(_ record: EdgeRecord, of edge: String) { state.withLockedValue { $0.records[edge] = record } }
}

/// The mailbox: every read, answered by the test.
final class FakeMailbox: MailboxReader {
    struct Read: Sendable {
        let device: String
        let after: Int64
        let limit: Int
        let answer: EventLoopPromise<(entries: [MailboxEntry], expired: [MailboxEntry])>
    }

    private let state = NIOLockedValueBox<(reads: [Read], open: [Int])>(([], []))

    func read(device: String, after seq: Int64, limit: Int,
              on eventLoop: any EventLoop) -> EventLoopFuture<(entries: [MailboxEntry], expired: [MailboxEntry])> {
        state.withLockedValue { state in
            let answer = eventLoop.makePromise(of: (entries: [MailboxEntry], expired: [MailboxEntry]).self)
            state.open.append(state.reads.count)
            state.reads.append(Read(device: device, after: seq, limit: limit, answer: answer))
            return answer.futureResult
        }
    }

    /// Every read asked for, in order: (device, after, limit).
    var reads: [Read] { state.withLockedValue { $0.reads } }

    /// Indices (into ``reads``) of the reads not answered yet.
    var open: [Int] { state.withLockedValue { $0.open } }

    /// Answers read `index` (off the loop: its callbacks run on the loop, in order).
    func answer(_ index: Int, _ entries: [MailboxEntry], expired: [MailboxEntry] = []) {
        complete(index, .success((entries, expired)))
    }

    func fail(_ index: Int) { complete(index, .failure(RedisError(message: "redis is down", isConnectionError: true))) }

    private func complete(_ index: Int, _ result: Result<(entries: [MailboxEntry], expired: [MailboxEntry]), any Error>) {
        let promise = state.withLockedValue { state -> EventLoopPromise<(entries: [MailboxEntry], expired: [MailboxEntry])>? in
            guard let at = state.open.firstIndex(of: index) else { return nil }
            state.open.remove(at: at)
            return state.reads[index].answer
        }
        promise?.completeWith(result)
    }

    deinit { for index in open { complete(index, .failure(LeftOpen())) } }
}

/// The ack batcher: the acks it was given.
final class FakeAcks: DeviceAcks {
    struct Ack: Sendable, Equatable {
        let device: String, id: String
    }

    private let added = NIOLockedValueBox<[Ack]>([])

    func add(device: String, id: String) { added.withLockedValue { $0.append(Ack(device: device, id: id)) } }

    var acks: [Ack] { added.withLockedValue { $0 } }
}
