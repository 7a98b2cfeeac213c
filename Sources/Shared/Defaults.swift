/// Local-development defaults shared by every component, so `gateway edge`, `gateway router` and `gateway echo`
/// work together with no flags against `gateway dev`'s conventional ports.
public enum Defaults {
    public static let topicPrefix = "cg"
    public static let kafkaBootstrap = "127.0.0.1:9092"
    public static let redisHost = "127.0.0.1"
    public static let redisPort = 6379
    public static let services = ["echo"]
    public static let topicPartitions: Int32 = 4
}
