import ChannelProtocol
import Foundation
import NIOCore
import Shared
import Testing
@testable import Edge

/// `sub` and `unsub` in the protocol state machine: the token's patterns decide, the connection does the rest.
@Suite struct DeviceSessionTopicsTests {
    let welcome = Welcome(edge: "e", session: "s", heartbeatSeconds: 25, maxMessageBytes: 1024)

    func ready(topics patterns: [String]) throws -> DeviceSession {
        var session = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        _ = session.received(.success(.hello(Hello(device: "d-42", token: "t"))))
        let grant = DeviceGrant(device: "d-42", services: ["echo"], expiresAt: .distantFuture,
                                topics: try patterns.map { try TopicPattern($0) })
        _ = session.accepted(grant, session: "s", welcome: welcome)
        return session
    }

    func forbidden(_ topic: String) -> DeviceSession.Action {
        .send(.error(ProtocolError(.forbiddenTopic, "this device may not subscribe to \"\(topic)\"", ref: topic)))
    }

    @Test func aSubscribeTheTokenAllowsGoesToTheConnection() throws {
        var session = try ready(topics: ["news.*", "user.{sub}.>"])
        #expect(session.received(.success(.subscribe(topic: "news.sports", position: nil)))
                == .subscribe(topic: "news.sports", position: nil))
        let position = TopicPosition(partition: 1, offset: 9)
        #expect(session.received(.success(.subscribe(topic: "user.d-42.inbox", position: position)))
                == .subscribe(topic: "user.d-42.inbox", position: position))
        #expect(session.readySession != nil)
    }

    @Test func aSubscribeBeyondThePatternsIsForbiddenTopicAndKeepsTheConnection() throws {
        var session = try ready(topics: ["news.*", "user.{sub}.>"])
        for topic in ["weather", "news", "news.sports.eu", "user.d-43.inbox", "user.d-42"] {
            #expect(session.received(.success(.subscribe(topic: topic, position: nil))) == forbidden(topic), "\(topic)")
            #expect(session.received(.success(.subscribe(topic: topic, position: TopicPosition(partition: 0, offset: 1))))
                    == forbidden(topic), "\(topic) with a position")
        }
        #expect(session.readySession != nil)
        #expect(session.received(.success(.subscribe(topic: "news.x", position: nil))) == .subscribe(topic: "news.x", position: nil))
    }

    @Test func aTokenWithoutPatternsMayNotSubscribe() throws {
        var session = try ready(topics: [])
        #expect(session.received(.success(.subscribe(topic: "news.sports", position: nil))) == forbidden("news.sports"))
    }

    @Test func unsubscribeIsLeftToTheConnection() throws {
        // Even for a topic the token does not allow: the connection answers not_subscribed.
        var session = try ready(topics: ["news.*"])
        #expect(session.received(.success(.unsubscribe(topic: "news.sports"))) == .unsubscribe(topic: "news.sports"))
        #expect(session.received(.success(.unsubscribe(topic: "weather"))) == .unsubscribe(topic: "weather"))
    }

    @Test func aSubscribeBeforeHelloClosesTheConnection() {
        var session = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        guard case .sendAndClose(.error(let error)?, .protocolViolation) =
                session.received(.success(.subscribe(topic: "news.sports", position: nil))) else {
            Issue.record("expected close 4002"); return
        }
        #expect(error.code == .helloRequired)
        #expect(session.received(.success(.subscribe(topic: "news.sports", position: nil))) == nil)
    }

    @Test func aBadTopicOrPositionIsAnsweredAndKeepsTheConnection() throws {
        var session = try ready(topics: [">"])
        let bad = ProtocolError(.badPosition, "x", ref: "news.sports")
        #expect(session.received(.failure(bad)) == .send(.error(bad)))
        let wildcard = ProtocolError(.invalidField, "\"topic\" has a wildcard: subscribe to topics by their full names")
        #expect(session.received(.failure(wildcard)) == .send(.error(wildcard)))
        #expect(session.readySession != nil)
    }

    @Test(arguments: [
        Frame.subscribed(topic: "a"), .unsubscribed(topic: "a"), .gap(topic: "a", position: TopicPosition(partition: 0, offset: 1)),
        .event(TopicEvent(topic: "a", position: TopicPosition(partition: 0, offset: 1), from: "echo", payload: .binary([]))),
    ])
    func framesOfTheEdgeAreUnknownFromADevice(_ frame: Frame) throws {
        var session = try ready(topics: [">"])
        guard case .send(.error(let error)) = session.received(.success(frame)) else {
            Issue.record("\(frame.typeName) accepted"); return
        }
        #expect(error.code == .unknownType)
        #expect(error.message.contains("\"\(frame.typeName)\""))
    }
}

extension TestEdge {
    /// The edge's topics (the edge must be made with `topicPartitions`).
    var edgeTopics: EdgeTopics { context.topics! }

    /// A connection of `device` whose token allows the topic `patterns`, welcomed with an empty mailbox.
    func welcomed(_ device: String, topics patterns: [String], encoding: FrameEncoding = .json) async throws -> DeviceLine {
        let line = try await connect(encoding: encoding)
        let token = try await tokens.mint(device: device, services: ["*"], topics: patterns, ttl: .seconds(3600))
        try await line.send(.hello(Hello(device: device, token: token)))
        guard case .frame(.welcome) = try await line.next() else { throw LineError("no welcome for \(device)") }
        guard let read = mailbox.open.last, mailbox.reads[read].device == device else {
            throw LineError("no mailbox read at the hello of \(device)")
        }
        mailbox.answer(read, [])
        await loop.run()
        return line
    }

    /// What the feed does with records it read: puts them in the log, then hands them to the loops.
    func feed(_ entries: [TopicEntry]) async {
        var heads: [Int32: Int64] = [:]
        for entry in entries { heads[entry.position.partition] = max(heads[entry.position.partition] ?? 0, entry.position.offset + 1) }
        edgeTopics.log.append(entries, heads: heads)
        edgeTopics.hub.dispatch(entries)
        await loop.run()
    }

    /// The connection's outbound buffer filled up (false) or drained (true), as NIO reports it.
    func writable(_ line: DeviceLine, _ writable: Bool) async throws {
        line.channel.isWritable = writable
        try await onLoop { _ in line.channel.pipeline.fireChannelWritabilityChanged() }
        await loop.run()
    }
}

/// Topics through one connection (DeviceConnection+Topics.swift), on an edge with a log and no broker.
@Suite(.timeLimit(.minutes(1))) struct DeviceTopicsTests {
    func at(_ partition: Int32, _ offset: Int64) -> TopicPosition { TopicPosition(partition: partition, offset: offset) }

    func events(_ entries: [TopicEntry]) -> [DeviceLine.Out] { entries.map { .frame(.event($0.event)) } }

    func refusal(_ code: ErrorCode, _ message: String, _ topic: String) -> [DeviceLine.Out] {
        [.frame(.error(ProtocolError(code, message, ref: topic)))]
    }

    @Test func aLiveSubscriptionGetsItsTopicsNewMessagesInOrder() async throws {
        let edge = try await TestEdge(topicPartitions: 2)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: nil))
        #expect(try await line.written() == [.frame(.subscribed(topic: "news.sports"))])
        #expect(edge.edgeTopics.hub.topicCount == 1)

        // A topic keeps to one partition (records are keyed by topic); others interleave on theirs.
        let sports = [topicEntry("news.sports", 0, 0), topicEntry("news.sports", 0, 2), topicEntry("news.sports", 0, 3)]
        await edge.feed([sports[0], topicEntry("news.other", 0, 1), topicEntry("news.other", 1, 0), sports[1], sports[2]])
        #expect(try await line.written() == events(sports))
        // A record handed over twice is written once.
        edge.edgeTopics.hub.dispatch([sports[1]])
        await edge.loop.run()
        #expect(try await line.written().isEmpty)
        #expect(try await edge.end(line).isClean)
        #expect(edge.edgeTopics.hub.topicCount == 0, "the ended connection's subscriptions are gone")
    }

    @Test func theBinaryEncodingCarriesTheSameFrames() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let line = try await edge.welcomed("d-1", topics: ["news.*"], encoding: .binary)
        try await line.send(.subscribe(topic: "news.sports", position: nil))
        #expect(try await line.written() == [.frame(.subscribed(topic: "news.sports"))])
        let entry = topicEntry("news.sports", 0, 0, payload: [0, 255])
        await edge.feed([entry])
        #expect(try await line.written() == events([entry]))
        try await line.send(.unsubscribe(topic: "news.sports"))
        #expect(try await line.written() == [.frame(.unsubscribed(topic: "news.sports"))])
        #expect(try await edge.end(line).isClean)
    }

    @Test func aTopicBeyondTheTokensPatternsIsForbidden() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let line = try await edge.welcomed("d-42", topics: ["news.*", "user.{sub}.*"])
        for topic in ["weather", "news.sports.eu", "user.d-1.inbox"] {
            try await line.send(.subscribe(topic: topic, position: nil))
            #expect(try await line.written() == refusal(.forbiddenTopic, "this device may not subscribe to \"\(topic)\"", topic))
        }
        #expect(edge.edgeTopics.hub.topicCount == 0)
        await edge.feed([topicEntry("weather", 0, 0)])
        #expect(try await line.written().isEmpty, "a refused subscription receives nothing")
        try await line.send(.subscribe(topic: "user.d-42.inbox", position: nil))
        #expect(try await line.written() == [.frame(.subscribed(topic: "user.d-42.inbox"))], "the connection stays usable")
        #expect(try await edge.end(line).isClean)
    }

    @Test func aTokenWithoutTopicsMaySubscribeToNothing() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let line = try await edge.welcomed("d-1", topics: [])
        try await line.send(.subscribe(topic: "news.sports", position: nil))
        #expect(try await line.written() == refusal(.forbiddenTopic, "this device may not subscribe to \"news.sports\"", "news.sports"))
        #expect(try await edge.end(line).isClean)
    }

    @Test func subscriptionsAreCappedPerConnection() async throws {
        let edge = try await TestEdge(topicPartitions: 1) { $0.maxTopicsPerConnection = 2 }
        let line = try await edge.welcomed("d-1", topics: [">"])
        for topic in ["a", "b"] {
            try await line.send(.subscribe(topic: topic, position: nil))
            #expect(try await line.written() == [.frame(.subscribed(topic: topic))])
        }
        try await line.send(.subscribe(topic: "c", position: nil))
        #expect(try await line.written() == refusal(.tooManyTopics, "a connection may subscribe to at most 2 topics", "c"))
        // Subscribing again to a topic it holds is not one more.
        try await line.send(.subscribe(topic: "a", position: nil))
        #expect(try await line.written() == [.frame(.subscribed(topic: "a"))])
        // Nor is c delivered.
        await edge.feed([topicEntry("c", 0, 0)])
        #expect(try await line.written().isEmpty)
        // An unsubscribe makes room.
        try await line.send(.unsubscribe(topic: "b"))
        try await line.send(.subscribe(topic: "c", position: nil))
        #expect(try await line.written() == [.frame(.unsubscribed(topic: "b")), .frame(.subscribed(topic: "c"))])
        #expect(try await edge.end(line).isClean)
    }

    @Test func theCapIsPerConnection() async throws {
        let edge = try await TestEdge(topicPartitions: 1) { $0.maxTopicsPerConnection = 1 }
        let one = try await edge.welcomed("d-1", topics: [">"])
        let two = try await edge.welcomed("d-2", topics: [">"])
        try await one.send(.subscribe(topic: "a", position: nil))
        try await two.send(.subscribe(topic: "b", position: nil))
        #expect(try await one.written() == [.frame(.subscribed(topic: "a"))])
        #expect(try await two.written() == [.frame(.subscribed(topic: "b"))])
        #expect(try await edge.end(one).isClean)
        #expect(try await edge.end(two).isClean)
    }

    @Test func unsubscribeStopsDeliveryAndAnUnknownOneIsNotSubscribed() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.unsubscribe(topic: "news.sports"))
        #expect(try await line.written()
                == refusal(.notSubscribed, "this connection is not subscribed to \"news.sports\"", "news.sports"))

        try await line.send(.subscribe(topic: "news.sports", position: nil))
        try await line.send(.unsubscribe(topic: "news.sports"))
        #expect(try await line.written() == [.frame(.subscribed(topic: "news.sports")), .frame(.unsubscribed(topic: "news.sports"))])
        #expect(edge.edgeTopics.hub.topicCount == 0)
        await edge.feed([topicEntry("news.sports", 0, 0)])
        #expect(try await line.written().isEmpty)

        try await line.send(.unsubscribe(topic: "news.sports"))
        #expect(try await line.written()
                == refusal(.notSubscribed, "this connection is not subscribed to \"news.sports\"", "news.sports"))
        #expect(try await edge.end(line).isClean)
    }

    @Test func oneConnectionsUnsubscribeLeavesTheOthers() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let one = try await edge.welcomed("d-1", topics: ["news.*"])
        let two = try await edge.welcomed("d-2", topics: ["news.*"])
        try await one.send(.subscribe(topic: "news.sports", position: nil))
        try await two.send(.subscribe(topic: "news.sports", position: nil))
        _ = try await one.written()
        _ = try await two.written()
        #expect(edge.edgeTopics.hub.topicCount == 1)

        let first = topicEntry("news.sports", 0, 0)
        await edge.feed([first])
        #expect(try await one.written() == events([first]))
        #expect(try await two.written() == events([first]))

        try await one.send(.unsubscribe(topic: "news.sports"))
        _ = try await one.written()
        let second = topicEntry("news.sports", 0, 1)
        await edge.feed([second])
        #expect(try await one.written().isEmpty)
        #expect(try await two.written() == events([second]))
        #expect(edge.edgeTopics.hub.topicCount == 1)
        #expect(try await edge.end(two).isClean)
        #expect(edge.edgeTopics.hub.topicCount == 0)
        #expect(try await edge.end(one).isClean)
    }

    @Test func anEdgeWithoutTopicsSaysUnavailable() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        let token = try await edge.tokens.mint(device: "d-1", services: ["*"], topics: [">"], ttl: .seconds(60))
        try await line.send(.hello(Hello(device: "d-1", token: token)))
        _ = try await line.next()
        edge.mailbox.answer(0, [])
        try await line.send(.subscribe(topic: "news.sports", position: nil))
        let written = try await line.written()
        #expect(written == refusal(.unavailable, "topics are not available on this edge", "news.sports"))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aPositionOnAPartitionTheStreamDoesNotHaveIsBadPosition() async throws {
        let edge = try await TestEdge(topicPartitions: 2)
        let line = try await edge.welcomed("d-1", topics: [">"])
        try await line.send(.subscribe(topic: "a", position: at(2, 0)))
        #expect(try await line.written()
                == refusal(.badPosition, "\"pos\" names partition 2, which the topic stream does not have", "a"))
        #expect(edge.edgeTopics.hub.topicCount == 0)
        try await line.send(.unsubscribe(topic: "a"))
        #expect(try await line.written() == refusal(.notSubscribed, "this connection is not subscribed to \"a\"", "a"))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aResumeIsServedFromTheLogThenGoesLive() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let history = (0..<6).map { topicEntry($0 == 3 ? "other" : "news.sports", 0, Int64($0)) }
        await edge.feed(history)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 1)))
        #expect(try await line.written()
                == [.frame(.subscribed(topic: "news.sports"))] + events([history[2], history[4], history[5]]))
        // Live from here, without repeating what the catch-up wrote.
        let next = topicEntry("news.sports", 0, 6)
        edge.edgeTopics.hub.dispatch([history[5]])
        await edge.feed([next])
        #expect(try await line.written() == events([next]))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aResumeAtTheHeadIsSubscribedWithNothingToReplay() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        await edge.feed([topicEntry("news.sports", 0, 0), topicEntry("news.sports", 0, 1)])
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 1)))
        // Offset 1 is the last record the feed read: nothing to replay, and the subscription is live at once.
        #expect(try await line.written() == [.frame(.subscribed(topic: "news.sports"))])
        let next = topicEntry("news.sports", 0, 2)
        await edge.feed([next])
        #expect(try await line.written() == events([next]))
        #expect(try await edge.end(line).isClean)
    }

    @Test func whatTheLogNoLongerHoldsIsAGap() async throws {
        let cost = topicEntry("news.sports", 0, 0).cost
        let edge = try await TestEdge(topicPartitions: 1) { $0.topicLogBytes = 3 * cost }
        let history = (0..<6).map { topicEntry("news.sports", 0, Int64($0)) }
        await edge.feed(history)
        #expect(edge.edgeTopics.log.coveredFrom(0) == 3)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 0)))
        #expect(try await line.written()
                == [.frame(.subscribed(topic: "news.sports")), .frame(.gap(topic: "news.sports", position: at(0, 2)))]
                + events(Array(history[3...])))
        let next = topicEntry("news.sports", 0, 6)
        await edge.feed([next])
        #expect(try await line.written() == events([next]))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aResumeJustInsideTheLogHasNoGap() async throws {
        let cost = topicEntry("news.sports", 0, 0).cost
        let edge = try await TestEdge(topicPartitions: 1) { $0.topicLogBytes = 3 * cost }
        let history = (0..<6).map { topicEntry("news.sports", 0, Int64($0)) }
        await edge.feed(history)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 2)))
        #expect(try await line.written() == [.frame(.subscribed(topic: "news.sports"))] + events(Array(history[3...])))
        #expect(try await edge.end(line).isClean)
    }

    @Test func messagesOlderThanTheReplayWindowAreAGap() async throws {
        let edge = try await TestEdge(topicPartitions: 1) { $0.topicReplayWindow = .seconds(60) }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let history = (0..<5).map { topicEntry("news.sports", 0, Int64($0), timestampMs: $0 < 3 ? now - 3_600_000 : now) }
        await edge.feed(history)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 0)))
        #expect(try await line.written()
                == [.frame(.subscribed(topic: "news.sports")), .frame(.gap(topic: "news.sports", position: at(0, 2)))]
                + events([history[3], history[4]]))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aPositionAheadOfTheFeedWaitsForIt() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 10)))
        #expect(try await line.written().isEmpty, "no subscribed before the position is known")
        let history = (0..<12).map { topicEntry("news.sports", 0, Int64($0)) }
        await edge.feed(history)
        #expect(try await line.written().isEmpty, "a catching-up subscription takes nothing live")
        await edge.loop.advanceTime(by: .milliseconds(100))
        #expect(try await line.written() == [.frame(.subscribed(topic: "news.sports"))] + events([history[11]]))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aPositionTheFeedNeverReachesIsBadPosition() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let line = try await edge.welcomed("d-1", topics: ["news.*"])
        try await line.send(.subscribe(topic: "news.sports", position: at(0, 1_000)))
        await edge.loop.advanceTime(by: .milliseconds(500))
        #expect(try await line.written().isEmpty)
        // The grace (2 s) is measured on the loop's clock.
        await edge.loop.advanceTime(by: .milliseconds(1_800))
        #expect(try await line.written()
                == refusal(.badPosition, "\"pos\" lies beyond the end of the topic stream", "news.sports"))
        #expect(edge.edgeTopics.hub.topicCount == 0)
        try await line.send(.unsubscribe(topic: "news.sports"))
        #expect(try await line.written()
                == refusal(.notSubscribed, "this connection is not subscribed to \"news.sports\"", "news.sports"))
        #expect(try await edge.end(line).isClean)
    }

    @Test func aSlowSubscriberCatchesUpWithoutHoldingUpTheOthers() async throws {
        let edge = try await TestEdge(topicPartitions: 1)
        let slow = try await edge.welcomed("d-1", topics: ["news.*"])
        let fast = try await edge.welcomed("d-2", topics: ["news.*"])
        for line in [slow, fast] { try await line.send(.subscribe(topic: "news.sports", position: nil)) }
        _ = try await slow.written()
        _ = try await fast.written()

        try await edge.writable(slow, false)
        let burst = (0..<4).map { topicEntry("news.sports", 0, Int64($0)) }
        await edge.feed(burst)
        #expect(try await fast.written() == events(burst))
        #expect(try await slow.written().isEmpty)

        try await edge.writable(slow, true)
        #expect(try await slow.written() == events(burst), "it resumes from its position, from the log")
        let next = topicEntry("news.sports", 0, 4)
        await edge.feed([next])
        #expect(try await slow.written() == events([next]))
        #expect(try await fast.written() == events([next]))
        #expect(try await edge.end(slow).isClean)
        #expect(try await edge.end(fast).isClean)
    }

    @Test func aSubscriberSlowerThanTheLogGetsAGap() async throws {
        let cost = topicEntry("news.sports", 0, 0).cost
        let edge = try await TestEdge(topicPartitions: 1) { $0.topicLogBytes = 2 * cost }
        let slow = try await edge.welcomed("d-1", topics: ["news.*"])
        try await slow.send(.subscribe(topic: "news.sports", position: nil))
        _ = try await slow.written()
        let first = topicEntry("news.sports", 0, 0)
        await edge.feed([first])
        #expect(try await slow.written() == events([first]))

        try await edge.writable(slow, false)
        let burst = (1..<6).map { topicEntry("news.sports", 0, Int64($0)) }
        await edge.feed(burst)
        try await edge.writable(slow, true)
        #expect(try await slow.written()
                == [.frame(.gap(topic: "news.sports", position: at(0, 3)))] + events(Array(burst[3...])))
        #expect(try await edge.end(slow).isClean)
    }
}
