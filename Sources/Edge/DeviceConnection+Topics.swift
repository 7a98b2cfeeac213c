import ChannelProtocol
import Foundation
import NIOCore
import NIOWebSocket

/// Topic subscriptions of one connection, all on its event loop: subscribe, unsubscribe, live delivery from the feed
/// (``LoopTopics``) and catch-up from the edge's ``TopicLog`` or the broker.
///
/// A subscription is live or catching up, never both: live writes skip a catching-up subscription, whose catch-up
/// reads the log (where the feed put every record before telling the loop) up to the head and only then turns live,
/// in the same loop turn. So nothing is lost between the two and positions only grow: a message is written once per
/// subscription, duplicates arise only from the device's own resumes (at-least-once). A connection whose outbound
/// buffer is full is paused and catches up from its position when it drains, so a slow device holds no one up and
/// costs the edge no queue of its own.
extension DeviceConnection {
    func subscribe(_ topic: String, after position: TopicPosition?) {
        guard let channel else { return }
        guard let topics = edge.topics else {
            refuse(ProtocolError(.unavailable, "topics are not available on this edge", ref: topic), channel)
            return
        }
        guard subscriptions[topic] != nil || subscriptions.count < topics.maxPerConnection else {
            refuse(ProtocolError(.tooManyTopics, "a connection may subscribe to at most \(topics.maxPerConnection) topics", ref: topic), channel)
            return
        }
        if let position, position.partition >= topics.log.partitionCount {
            refuse(ProtocolError(.badPosition, "\"pos\" names partition \(position.partition), which the topic stream does not have", ref: topic), channel)
            return
        }
        nextGeneration += 1
        subscriptions[topic] = TopicSubscription(after: position, mode: position == nil ? .live : .catchingUp,
                                                 generation: nextGeneration, confirmed: position == nil)
        loopTopics(channel).add(topic, self)
        if position == nil {
            channel.send(.subscribed(topic: topic), as: encoding)
        } else {
            catchUp(topic, generation: nextGeneration)
        }
    }

    func unsubscribe(_ topic: String) {
        guard let channel else { return }
        guard subscriptions.removeValue(forKey: topic) != nil else {
            refuse(ProtocolError(.notSubscribed, "this connection is not subscribed to \"\(topic)\"", ref: topic), channel)
            return
        }
        loopTopics(channel).remove(topic, self)
        channel.send(.unsubscribed(topic: topic), as: encoding)
    }

    /// Forgets every subscription; when the connection ends.
    func dropSubscriptions() {
        guard let channel, !subscriptions.isEmpty else { return }
        let local = loopTopics(channel)
        for topic in subscriptions.keys { local.remove(topic, self) }
        subscriptions = [:]
    }

    /// A record the feed just read, as `frame`: written (without flush; the caller flushes and counts) if this
    /// subscription is live and has not had it. Returns whether it wrote.
    func live(_ entry: TopicEntry, frame: WebSocketFrame) -> Bool {
        guard var subscription = subscriptions[entry.topic], subscription.mode == .live, let channel else { return false }
        let position = entry.position
        if let after = subscription.after, after.partition == position.partition, position.offset <= after.offset {
            return false
        }
        guard channel.isWritable else {
            subscription.mode = .paused
            if subscription.after?.partition != position.partition {
                subscription.after = TopicPosition(partition: position.partition, offset: position.offset - 1)
            }
            subscriptions[entry.topic] = subscription
            return false
        }
        channel.write(frame, promise: nil)
        subscription.after = position
        subscriptions[entry.topic] = subscription
        return true
    }

    /// The outbound buffer drained: paused subscriptions catch up from where they stopped.
    func resumePausedTopics() {
        for (topic, subscription) in subscriptions where subscription.mode == .paused {
            subscriptions[topic]?.mode = .catchingUp
            catchUp(topic, generation: subscription.generation)
        }
    }

    /// One step of a catch-up: writes the next entries after the subscription's position, then goes on once they are
    /// flushed, until the log's head, where the subscription turns live.
    func catchUp(_ topic: String, generation: Int) {
        guard let topics = edge.topics, let channel, let subscription = subscriptions[topic],
              subscription.generation == generation, subscription.mode == .catchingUp, let after = subscription.after else { return }
        guard channel.isWritable else {
            subscriptions[topic]?.mode = .paused
            return
        }
        guard let head = topics.log.head(after.partition) else { return }
        if after.offset >= head {
            waitForFeed(topic, subscription, channel: channel, grace: topics.aheadGrace)
            return
        }
        if !subscription.confirmed {
            subscriptions[topic]?.confirmed = true
            subscriptions[topic]?.aheadSince = nil
            channel.send(.subscribed(topic: topic), as: encoding)
        }
        switch topics.log.read(topic: topic, after: after, limit: topics.catchUpChunk) {
        case .needsBroker(let coveredFrom):
            readBroker(topic, generation: generation, from: after.offset + 1,
                       until: min(coveredFrom, after.offset + 1 + topics.maxReplayRange), partition: after.partition, channel: channel)
        case .entries(let entries, let more):
            let written = write(entries, topic: topic, channel: channel)
            guard more else {
                subscriptions[topic]?.mode = .live
                if written != nil { channel.flush() }
                return
            }
            continueAfterFlush(written, topic, generation: generation, channel: channel)
        }
    }

    /// A position beyond the feed's head: from a faster edge, by a few milliseconds, or made up. Wait a little for the
    /// feed (the device has no `subscribed` yet), then refuse it.
    private func waitForFeed(_ topic: String, _ subscription: TopicSubscription, channel: any Channel, grace: Duration) {
        let since = subscription.aheadSince ?? channel.eventLoop.now
        guard channel.eventLoop.now - since < TimeAmount(grace) else {
            subscriptions[topic] = nil
            loopTopics(channel).remove(topic, self)
            refuse(ProtocolError(.badPosition, "\"pos\" lies beyond the end of the topic stream", ref: topic), channel)
            return
        }
        subscriptions[topic]?.aheadSince = since
        let this = NIOLoopBound(self, eventLoop: channel.eventLoop)
        channel.eventLoop.scheduleTask(in: .milliseconds(100)) {
            this.value.catchUp(topic, generation: subscription.generation)
        }
    }

    private func readBroker(_ topic: String, generation: Int, from: Int64, until: Int64, partition: Int32,
                            channel: any Channel) {
        guard let replay = edge.topics?.replay else {
            // Nothing to read the broker with: what the log does not hold is missed.
            replayed(topic, generation: generation, partition: partition, until: until,
                     .success(TopicReplayReader.Answer(entries: [], low: until)), channel: channel)
            return
        }
        edge.metrics.topicReplayReads.increment()
        let this = NIOLoopBound(self, eventLoop: channel.eventLoop)
        let loop = channel.eventLoop
        replay.request(TopicReplayReader.Request(topic: topic, partition: partition, from: from, until: until) { result in
            loop.execute {
                this.value.replayed(topic, generation: generation, partition: partition, until: until, result, channel: channel)
            }
        })
    }

    private func replayed(_ topic: String, generation: Int, partition: Int32, until: Int64,
                          _ result: Result<TopicReplayReader.Answer, any Error>, channel: any Channel) {
        guard let subscription = subscriptions[topic], subscription.generation == generation,
              subscription.mode == .catchingUp, let after = subscription.after else { return }
        switch result {
        case .failure(let error):
            edge.logger.warning("cannot read the topic stream for \(topic), trying again in 1 s: \(error)")
            let this = NIOLoopBound(self, eventLoop: channel.eventLoop)
            channel.eventLoop.scheduleTask(in: .seconds(1)) { this.value.catchUp(topic, generation: generation) }
        case .success(let answer):
            var gapWritten: EventLoopFuture<Void>?
            if answer.low > after.offset + 1 {
                // The broker no longer has what came after the position: some of it may have been this topic's.
                let lost = TopicPosition(partition: partition, offset: min(answer.low, until) - 1)
                subscriptions[topic]?.after = lost
                gapWritten = sendGap(topic, lost, channel: channel)
            }
            let written = write(answer.entries, topic: topic, channel: channel) ?? gapWritten
            // Every offset of the range was looked at: the next step starts after it, in the log or the broker.
            if let current = subscriptions[topic]?.after, current.offset < until - 1 {
                subscriptions[topic]?.after = TopicPosition(partition: partition, offset: until - 1)
            }
            continueAfterFlush(written, topic, generation: generation, channel: channel)
        }
    }

    /// Writes entries of a catch-up (without flushing), after a `gap` for those older than the window.
    /// - Returns: the future of the last write, nil if nothing was written.
    private func write(_ entries: [TopicEntry], topic: String, channel: any Channel) -> EventLoopFuture<Void>? {
        guard !entries.isEmpty, let topics = edge.topics else { return nil }
        let oldest = topics.windowStartMs
        var last: EventLoopFuture<Void>?
        if let missed = entries.last(where: { ($0.timestampMs ?? .max) < oldest })?.position {
            last = sendGap(topic, missed, channel: channel)
            subscriptions[topic]?.after = missed
        }
        for entry in entries {
            guard let after = subscriptions[topic]?.after, entry.position.offset > after.offset
                    || entry.position.partition != after.partition else { continue }
            last = channel.write(entry.frame(encoding))
            edge.metrics.topicDeliveries.increment()
            subscriptions[topic]?.after = entry.position
        }
        return last
    }

    @discardableResult
    private func sendGap(_ topic: String, _ position: TopicPosition, channel: any Channel) -> EventLoopFuture<Void> {
        edge.metrics.topicGaps.increment()
        let data = channel.allocator.buffer(bytes: encoding.encode(.gap(topic: topic, position: position)))
        return channel.write(WebSocketFrame(message: data, encoding))
    }

    /// Flushes, and takes the next step once what was written has left (or at once if nothing was written), so a
    /// catch-up never holds more than a chunk in the connection's buffer.
    private func continueAfterFlush(_ written: EventLoopFuture<Void>?, _ topic: String, generation: Int, channel: any Channel) {
        let this = NIOLoopBound(self, eventLoop: channel.eventLoop)
        guard let written else {
            channel.eventLoop.execute { this.value.catchUp(topic, generation: generation) }
            return
        }
        channel.flush()
        written.whenComplete { _ in this.value.catchUp(topic, generation: generation) }
    }

    private func refuse(_ error: ProtocolError, _ channel: any Channel) {
        edge.metrics.refused(error.code)
        channel.send(.error(error), as: encoding)
    }

    private func loopTopics(_ channel: any Channel) -> LoopTopics {
        if let local = topicsOnLoop { return local }
        let local = edge.topics!.hub.local(channel.eventLoop)
        topicsOnLoop = local
        return local
    }
}
