import ChannelProtocol

extension PersistentDevice {
    /// Subscribes to `topic` now (if connected) and on every later connection, from the last position yielded.
    /// - Parameter position: the last position processed before this device object existed (kept by the app, for
    ///   example across restarts); ignored when the topic is already subscribed.
    /// - Throws: ``DeviceClient/Failure/refused(_:)`` when the connected edge refuses it (the topic is then forgotten).
    ///   Not connected, it returns at once and subscribes on the next connection.
    public func subscribe(topic: String, after position: TopicPosition? = nil) async throws {
        try DeviceClient.checkTopic(topic)
        let (client, from) = state.withLockedValue { s -> (DeviceClient?, TopicPosition?) in
            if s.topics[topic] == nil { s.topics[topic] = .some(position) }
            return (s.client, s.topics[topic] ?? nil)
        }
        guard let client else { return }
        do {
            try await client.subscribe(topic: topic, after: from)
        } catch DeviceClient.Failure.refused(let error) {
            _ = state.withLockedValue { $0.topics.removeValue(forKey: topic) }
            throw DeviceClient.Failure.refused(error)
        } catch {
            // The connection went away: the next one subscribes.
        }
    }

    /// Stops following `topic`, on this connection and the next ones.
    public func unsubscribe(topic: String) async {
        let client = state.withLockedValue { s -> DeviceClient? in
            s.topics.removeValue(forKey: topic)
            return s.client
        }
        try? await client?.unsubscribe(topic: topic)
    }

    /// The last position yielded for `topic`, to keep across restarts of the app.
    public func position(of topic: String) -> TopicPosition? {
        state.withLockedValue { $0.topics[topic] ?? nil }
    }

    /// On a new connection: subscribes to every topic from its last position, then yields what arrives until the
    /// connection ends, dropping what was already yielded.
    func followTopics(on client: DeviceClient) async {
        let topics = state.withLockedValue { $0.topics }
        for (topic, position) in topics {
            do {
                try await client.subscribe(topic: topic, after: position)
            } catch DeviceClient.Failure.refused(let error) {
                _ = state.withLockedValue { $0.topics.removeValue(forKey: topic) }
                eventSink.yield(.topicRefused(topic: topic, error: error))
            } catch {
                break
            }
        }
        for await delivery in client.topicEvents where isNew(delivery) {
            topicSink.yield(delivery)
        }
    }

    /// Whether a delivery comes after the last one yielded for its topic (positions of a topic only grow); records it.
    private func isNew(_ delivery: TopicDelivery) -> Bool {
        state.withLockedValue { s in
            guard let entry = s.topics[delivery.topic] else { return false }
            let position = delivery.position
            if let last = entry, last.partition == position.partition, position.offset <= last.offset { return false }
            s.topics[delivery.topic] = .some(position)
            return true
        }
    }
}
