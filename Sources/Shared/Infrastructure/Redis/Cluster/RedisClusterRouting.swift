import Foundation
import Lifecycle

// How RedisClusterClient sends a batch: items grouped by the node of their key's slot, one pipeline per node side by
// side, then a further round for the items redirected (MOVED: after the map is read again; ASK: to the node named;
// TRYAGAIN: after a short wait), until none is left or the redirect limit is reached.

extension RedisClusterClient {
    typealias Reply = Result<RedisValue, RedisError>
    /// Sends items `indices` to `client`, the asked ones behind `ASKING`, and calls back with their replies in order.
    typealias NodeSend = @Sendable (_ client: RedisClient, _ indices: [Int], _ asked: Set<Int>,
                                    _ done: @escaping @Sendable ([Reply]) -> Void) -> Void

    /// One batch on its way: the items' keys, what sends them, and the results so far.
    private final class Batch: Sendable {
        let keys: [[UInt8]]
        let send: NodeSend
        let completion: @Sendable ([Reply]) -> Void
        let results: Locked<[Reply?]>

        init(keys: [[UInt8]], send: @escaping NodeSend, completion: @escaping @Sendable ([Reply]) -> Void) {
            self.keys = keys
            self.send = send
            self.completion = completion
            results = Locked(Array(repeating: nil, count: keys.count))
        }

        func set(_ replies: [(Int, Reply)]) { results.withLock { for (index, reply) in replies { $0[index] = reply } } }
        func finish() { completion(results.withLock { $0.map { $0! } }) }
    }

    /// Sends item `i` (whose slot `keys[i]` decides) to its node with `send`; `completion` gets the results in the
    /// order of `keys`.
    func route(keys: [[UInt8]], send: @escaping NodeSend, completion: @escaping @Sendable ([Reply]) -> Void) {
        guard !keys.isEmpty else { return completion([]) }
        round(Batch(keys: keys, send: send, completion: completion), pending: Array(keys.indices), asking: [:], attempt: 0)
    }

    private func round(_ batch: Batch, pending: [Int], asking: [Int: RedisSlotMap.Node], attempt: Int) {
        withMap { [self] mapRead in
            let map: RedisSlotMap
            switch mapRead {
            case .failure(let error):
                batch.set(pending.map { ($0, .failure(.connection("no Redis Cluster slot map: \(error.message)"))) })
                return batch.finish()
            case .success(let current): map = current
            }
            var groups: [RedisSlotMap.Node: [Int]] = [:]
            var unserved: [(Int, Reply)] = []
            for index in pending {
                let slot = RedisKeySlot.slot(of: batch.keys[index])
                if let node = asking[index] ?? map.primary(forSlot: slot) {
                    groups[RedisSlotMap.Node(host: node.host, port: node.port), default: []].append(index)
                } else {
                    unserved.append((index, .failure(Self.noPrimary(slot))))
                }
            }
            batch.set(unserved)
            guard !groups.isEmpty else { return batch.finish() }
            let nodes = Array(groups)
            let answers = Gathering<[(Int, Reply)]>(count: nodes.count) { [self] answers in
                followRedirects(batch, answers: Array(answers.joined()), attempt: attempt)
            }
            let asked = Set(asking.keys)
            for (position, (node, indices)) in nodes.enumerated() {
                batch.send(client(for: endpoint(for: node)), indices, asked.intersection(indices)) { replies in
                    answers.put(Array(zip(indices, replies)), at: position)
                }
            }
        }
    }

    private func followRedirects(_ batch: Batch, answers: [(Int, Reply)], attempt: Int) {
        var pending: [Int] = []
        var asking: [Int: RedisSlotMap.Node] = [:]
        var moved = false, lostNode = false, tryAgain = false
        batch.set(answers)
        for (index, reply) in answers {
            guard case .failure(let error) = reply else { continue }
            if let redirect = RedisRedirect(errorMessage: error.message), attempt < Self.maxRedirects {
                pending.append(index)
                if redirect.kind == .ask { asking[index] = redirect.node } else { moved = true }
            } else if error.message.hasPrefix("TRYAGAIN"), attempt < Self.maxRedirects {
                // A multi-key call on a slot being migrated, with its keys split between the two nodes: the
                // migration moves the rest within moments.
                pending.append(index)
                tryAgain = true
            } else if error.isConnectionError {
                lostNode = true
            }
        }
        let next: @Sendable () -> Void = { [self, pending, asking] in
            if pending.isEmpty { return batch.finish() }
            round(batch, pending: pending.sorted(), asking: asking, attempt: attempt + 1)
        }
        if moved || lostNode {
            refreshSlotMap { _ in next() }
        } else if tryAgain {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20 << attempt), execute: next)
        } else {
            next()
        }
    }

    /// The replies of `indices` from a pipeline in which each asked index's command came behind an ASKING.
    static func dropAsking(_ replies: [Reply], indices: [Int], asked: Set<Int>) -> [Reply] {
        var position = 0
        return indices.map { index in
            if asked.contains(index) { position += 1 }
            defer { position += 1 }
            return replies[position]
        }
    }
}
