import Infrastructure
import Shared

extension KafkaConfig {
    /// This configuration with ``TopicRecord/producerProperties`` applied last to producers, for every producer that
    /// publishes topic records: the murmur2 partitioner puts each topic on the partition any other publisher (a Java
    /// client, another service) puts it on, so one topic stays on one partition and its positions only grow. It
    /// overrides a `partitioner` set elsewhere, since a different one would split topics across partitions.
    public var forTopicPublishing: KafkaConfig {
        var config = self
        config.producerProperties.merge(TopicRecord.producerProperties) { _, required in required }
        return config
    }
}
