import Lifecycle

extension Duration {
    /// Whole milliseconds for a Redis expiry (`PX`, `PEXPIRE`, a script's TTL argument): at least 1, since Redis
    /// refuses an expiry of 0.
    public var redisMilliseconds: Int64 { max(1, inMilliseconds) }
}
