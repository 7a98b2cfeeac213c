import Foundation
import Lifecycle

extension KafkaProducer {
    /// Sends every record and blocks until each has its delivery report or `timeout` has passed; results are in the
    /// order of `records`, and a record without a report by then counts as failed (retriable: it may still arrive).
    ///
    /// For dedicated threads only (consumer loops, sweeps), never an event loop or the cooperative pool. Records are
    /// enqueued in order, so records with the same key keep their order. Choose `timeout` under the consumer's
    /// `max.poll.interval.ms`, so that a broker outage cannot push a waiting consumer out of its group.
    public func sendAllBlocking(_ records: [OutgoingRecord], within timeout: Duration) -> [Result<KafkaDelivery, KafkaError>] {
        let deadline = ContinuousClock.now + timeout
        let results = Gathering<Result<KafkaDelivery, KafkaError>>(count: records.count)
        for (i, record) in records.enumerated() {
            do {
                try send(record) { results.put($0, at: i) }
            } catch let error as KafkaError {
                results.put(.failure(error), at: i)
            } catch {
                results.put(.failure(KafkaError(code: -1, message: "\(error)", isRetriable: true)), at: i)
            }
        }
        return results.wait(until: deadline).map {
            $0 ?? .failure(KafkaError(code: -1, message: "no delivery report within \(timeout)", isRetriable: true))
        }
    }
}
