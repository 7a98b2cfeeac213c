internal import CRdKafka

/// The librdkafka library linked into this process, and the check that it is new enough for these wrappers.
public enum Librdkafka {
    /// The oldest librdkafka we accept: 2.1.0 (`rd_kafka_produceva` headers, incremental assign, error objects).
    static let minimumVersion: Int32 = 0x0201_00ff

    /// For example "2.8.0".
    public static var versionString: String { String(cString: rd_kafka_version_str()) }

    /// The version as librdkafka encodes it: 0xMMmmrrxx.
    public static var version: Int32 { rd_kafka_version() }

    /// Throws if the linked librdkafka is older than 2.1.0, saying how to fix it.
    public static func requireSupportedVersion() throws {
        try requireSupported(version: version, named: versionString)
    }

    /// The check itself, for any version number.
    static func requireSupported(version: Int32, named name: String) throws {
        guard version < minimumVersion else { return }
        throw KafkaError(
            code: RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED.rawValue,
            message: "librdkafka \(name) is too old: need >= 2.1.0, since older ones cannot talk to KRaft-era brokers "
                + "(run scripts/setup.sh, which installs a current librdkafka into /usr/local)",
            isRetriable: false)
    }
}
