/// What the HTTP API hands a push or a publish to once its head and body passed the HTTP checks: ``PushEndpoint`` in service,
/// a fake in the handler tests (so ``PushHTTPHandler`` is tested without Redis or Kafka).
protocol PushCarrier: Sendable {
    /// Carries out one push and says how to answer it; never throws, every failure is a response.
    func push(_ request: PushRequest, payload: [UInt8]) async -> PushResponse
    /// Carries out one publish to a topic and says how to answer it; never throws, every failure is a response.
    func publish(_ request: TopicPublishRequest, payload: [UInt8]) async -> PushResponse
}
