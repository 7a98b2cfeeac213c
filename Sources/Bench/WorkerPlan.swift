import ChannelProtocol

/// The scenarios the load generator runs (docs/performance.md).
enum Scenario: String, Codable, Sendable, CaseIterable {
    case connections, upstream, roundtrip, downstream, reconnect
    /// Topic subscribers: one record published, delivered by every edge to its local subscribers.
    case fanout
    /// Redis alone: what waiting messages cost it (no devices, no workers).
    case mailboxMemory = "mailbox-memory"
    /// Random faults under mixed load, with the delivery invariants checked at the end (devices in process).
    case chaos
    /// Sends through `gateway api` against producing to Kafka directly (no devices, no workers).
    case api
}

/// What one worker process does: which devices it plays, where they connect from and to, and what they send.
///
/// The coordinator splits a run into plans so that no process holds more than about 15,000 sockets (the machine's
/// hard limit is 20,000 open files per process) and each worker connects from its own loopback address, which
/// gives it its own range of ephemeral ports.
struct WorkerPlan: Codable, Sendable {
    var scenario: Scenario
    var worker: Int
    /// Edge URLs. Device `n` connects to `urls[n % urls.count]`; in `reconnect`, every device starts on `urls[0]`
    /// and tries the others, in turn, after losing it.
    var urls: [String]
    /// A PEM file of the certificates to trust on `wss://` URLs (a run's self-signed edge certificate); nil trusts
    /// the system's roots.
    var trustRootsFile: String? = nil
    var devicePrefix: String
    /// Global number of this worker's first device, and how many it plays.
    var firstDevice: Int
    var devices: Int
    var localAddress: String?
    var encoding: String
    /// The service devices send to.
    var service: String
    var payloadBytes: Int
    /// Messages per second offered by this whole worker, on a fixed schedule; 0 means as fast as `window` allows.
    var rate: Double
    /// Messages a device keeps unacked when `rate` is 0.
    var window: Int
    /// Devices connecting at once.
    var connectConcurrency: Int
    /// The topic every device subscribes to once welcomed (fanout); its token then allows `bench.*`. Nil: none.
    var topic: String? = nil

    var frameEncoding: FrameEncoding { encoding == "json" ? .json : .binary }

    func url(forDevice n: Int) -> String { urls[n % urls.count] }
}

/// One line a worker prints (prefixed with ``WorkerReport/marker``): its progress, and at the end its figures.
struct WorkerReport: Codable, Sendable {
    static let marker = "BENCH "

    enum Phase: String, Codable, Sendable {
        case connecting, connected, running, done
    }

    var worker: Int
    var phase: Phase
    /// Devices whose hello was welcomed.
    var connected = 0
    /// Devices that could not connect (after retries).
    var failed = 0
    var sent = 0
    var acked = 0
    /// `error` frames answering a message (for example `unavailable`).
    var refused = 0
    /// Messages from services that reached a device.
    var received = 0
    /// The same since the devices connected: not reset when measuring starts (the downstream publisher paces on it).
    var receivedSinceStart = 0
    /// Devices connected again after their edge was killed (reconnect).
    var reconnected = 0
    /// Devices subscribed to the plan's topic (fanout).
    var subscribed = 0
    /// `gap` frames received, and topic events received twice or out of order (by the sequence number in the payload).
    var gaps = 0
    var duplicates = 0
    /// Fanout: devices whose latest event is older than the one named by the last `collect` command (fell behind).
    var behind = 0
    /// Fanout reconnect storm: devices disconnected, and devices that received every missed event after resuming.
    var disconnected = 0
    var caughtUp = 0
    /// The `collect` command this report answers (it carries the latencies recorded since the previous one).
    var round: Int? = nil
    /// Seconds from the start of connecting to the last welcome.
    var connectSeconds = 0.0
    var firstError: String?
    /// Latency in microseconds (ack, round trip, delivery or reconnect time, depending on the scenario), measured
    /// while `running`; sent with `done` only.
    var latency: LatencyHistogram?
}
