/// Everything each side saw during a chaos run, as plain values: what devices sent and the edge acked, what reached
/// each service's topic, what backends and app servers sent and were told was durable, what devices received, when
/// devices lost and regained their connection, which faults were injected, and when each component was ready.
///
/// Times are seconds since the run started. The ledger judges nothing; ``ChaosVerdict`` does.
public struct ChaosLedger: Sendable, Codable {
    /// A device message the edge acked: it must be on the service's topic.
    public struct UpstreamAck: Sendable, Codable, Hashable {
        public var service: String
        public var device: String
        public var id: String
        /// The device's own counter: each device sends its next message only after the previous one was acked.
        public var seq: Int
        public var at: Double
        public init(service: String, device: String, id: String, seq: Int, at: Double) {
            (self.service, self.device, self.id, self.seq, self.at) = (service, device, id, seq, at)
        }
    }

    /// A record seen on `<prefix>.up.<service>`, in the order of its partition.
    public struct ServiceRecord: Sendable, Codable, Hashable {
        public var service: String
        public var device: String
        public var id: String
        public var seq: Int
        public init(service: String, device: String, id: String, seq: Int) {
            (self.service, self.device, self.id, self.seq) = (service, device, id, seq)
        }
    }

    /// How a message for a device entered the gateway.
    public enum Channel: String, Sendable, Codable {
        /// A backend's record on `<prefix>.down`, acknowledged by the broker.
        case backend
        /// An app server's push answered 201.
        case push
    }

    /// A message for a device that the gateway took responsibility for.
    public struct DownstreamSend: Sendable, Codable, Hashable {
        public var channel: Channel
        public var device: String
        /// The id the device sees.
        public var id: String
        /// The sender's counter per device: the next message to a device is sent only after the previous one was taken.
        public var seq: Int
        public var ttl: Double
        /// When the sender started the attempt that the gateway took (its TTL runs from about then): a record's
        /// timestamp, which anchors its expiry, is set by the attempt that produced it. An app server's push that was
        /// refused or timed out and then sent again is a new message with a new id, taken only by the last attempt.
        public var at: Double
        public init(channel: Channel, device: String, id: String, seq: Int, ttl: Double, at: Double) {
            (self.channel, self.device, self.id, self.seq, self.ttl, self.at) = (channel, device, id, seq, ttl, at)
        }
    }

    /// A message a device's client yielded (the client drops a repeat of an id it has seen).
    public struct Receipt: Sendable, Codable, Hashable {
        public var device: String
        public var service: String
        public var id: String
        /// The sender's counter carried in the payload, when the payload has one.
        public var seq: Int?
        public var at: Double
        public init(device: String, service: String, id: String, seq: Int?, at: Double) {
            (self.device, self.service, self.id, self.seq, self.at) = (device, service, id, seq, at)
        }
    }

    /// A message on a topic, as the publisher's broker acknowledged it.
    public struct TopicPublish: Sendable, Codable, Hashable {
        public var topic: String
        public var partition: Int
        public var offset: Int64
        public var at: Double
        public init(topic: String, partition: Int, offset: Int64, at: Double) {
            (self.topic, self.partition, self.offset, self.at) = (topic, partition, offset, at)
        }
    }

    /// A topic event or gap a subscriber's client yielded.
    public struct TopicReceipt: Sendable, Codable, Hashable {
        public var device: String
        public var topic: String
        public var partition: Int
        /// The event's offset, or for a gap the offset of the last message it covers.
        public var offset: Int64
        public var isGap: Bool
        public var at: Double
        public init(device: String, topic: String, partition: Int, offset: Int64, isGap: Bool, at: Double) {
            (self.device, self.topic, self.partition, self.offset, self.isGap, self.at) = (device, topic, partition, offset, isGap, at)
        }
    }

    /// A device's connection coming or going.
    public struct LinkChange: Sendable, Codable, Hashable {
        public var device: String
        public var connected: Bool
        /// True when the run itself took the device offline (a device leaving), so no reconnect is owed.
        public var onPurpose: Bool
        public var at: Double
        public init(device: String, connected: Bool, onPurpose: Bool = false, at: Double) {
            (self.device, self.connected, self.onPurpose, self.at) = (device, connected, onPurpose, at)
        }
    }

    /// One injected fault.
    public struct Fault: Sendable, Codable, Hashable {
        public var kind: String
        public var target: String
        public var injectedAt: Double
        /// When the harness restarted or resumed what it broke.
        public var endedAt: Double?
        public init(kind: String, target: String, injectedAt: Double, endedAt: Double? = nil) {
            (self.kind, self.target, self.injectedAt, self.endedAt) = (kind, target, injectedAt, endedAt)
        }
    }

    /// One answer of a component's `/readyz` (or none: not running, refused, timed out).
    public struct ReadyProbe: Sendable, Codable, Hashable {
        public var component: String
        public var ready: Bool
        public var at: Double
        public init(component: String, ready: Bool, at: Double) {
            (self.component, self.ready, self.at) = (component, ready, at)
        }
    }

    public var seed: UInt64
    /// When load generation stopped, and when the run stopped waiting for stragglers.
    public var loadStoppedAt = 0.0
    public var endedAt = 0.0
    public var acked: [UpstreamAck] = []
    public var reached: [ServiceRecord] = []
    public var sent: [DownstreamSend] = []
    /// `device|id` of each message a report said expired.
    public var expired: Set<String> = []
    public var receipts: [Receipt] = []
    /// Repeats of an id a client had already yielded, dropped by the client.
    public var sameIdRepeats = 0
    public var published: [TopicPublish] = []
    /// For each subscriber, when its subscription was first accepted (`device|topic`), and the offset it first asked to
    /// start after: it owes nothing published before that.
    public var subscribedAt: [String: Double] = [:]
    public var topicReceipts: [TopicReceipt] = []
    public var links: [LinkChange] = []
    public var faults: [Fault] = []
    public var probes: [ReadyProbe] = []

    public init(seed: UInt64) {
        self.seed = seed
    }
}
