import Foundation

extension KafkaProducer {
    /// Sends every record and blocks until each has its delivery report; results are in the order of `records`.
    ///
    /// For dedicated threads only (consumer loops), never an event loop. Records are enqueued in order, so records
    /// with the same key keep their order.
    public func sendAllBlocking(_ records: [OutgoingRecord]) -> [Result<KafkaDelivery, KafkaError>] {
        let results = BlockingResults(count: records.count)
        for (i, record) in records.enumerated() {
            do {
                try send(record) { results.set(i, $0) }
            } catch let error as KafkaError {
                results.set(i, .failure(error))
            } catch {
                results.set(i, .failure(KafkaError(code: -1, message: "\(error)", isRetriable: true)))
            }
        }
        return results.wait()
    }
}

/// Collects results that arrive on other threads and lets one thread wait for all of them.
private final class BlockingResults: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Result<KafkaDelivery, KafkaError>?]
    private var missing: Int

    init(count: Int) {
        results = Array(repeating: nil, count: count)
        missing = count
    }

    func set(_ i: Int, _ result: Result<KafkaDelivery, KafkaError>) {
        condition.withLock {
            if results[i] == nil { missing -= 1 }
            results[i] = result
            condition.broadcast()
        }
    }

    func wait() -> [Result<KafkaDelivery, KafkaError>] {
        condition.withLock {
            while missing > 0 { condition.wait() }
            return results.map { $0! }
        }
    }
}
