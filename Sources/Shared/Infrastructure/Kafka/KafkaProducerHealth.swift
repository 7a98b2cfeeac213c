/// Whether a ``KafkaProducer`` can deliver, for readiness checks and metrics.
public struct KafkaProducerHealth: Sendable, Equatable {
    /// Why it cannot deliver now (its librdkafka producer failed for good and is being replaced, or could not be
    /// replaced), or nil while it can.
    public var failure: String?
    /// How many times it has replaced a failed librdkafka producer since it was made.
    public var replacements: Int

    public init(failure: String?, replacements: Int) {
        self.failure = failure
        self.replacements = replacements
    }
}
