import Infrastructure
import Logging

/// How much memory Redis uses for data, read with `INFO memory` from each primary.
enum RedisMemory {
    /// `used_memory` of the server on `ports[0]`, or summed over the cluster's primaries (found from any of `ports`).
    static func used(ports: [Int], cluster: Bool) async throws -> Int64 {
        var primaries = [ports[0]]
        if cluster {
            let client = RedisClusterClient(seeds: ports.map { RedisEndpoint(port: $0) }, logger: Logger(label: "bench-redis"))
            defer { client.close() }
            primaries = try await client.refreshSlotMap().primaries.map(\.port)
        }
        var total: Int64 = 0
        for port in primaries {
            let client = RedisClient(endpoint: RedisEndpoint(port: port), logger: Logger(label: "bench-redis"))
            defer { client.close() }
            let info = try await client.send(["INFO", "memory"]).string ?? ""
            guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("used_memory:") }),
                  let bytes = Int64(line.dropFirst("used_memory:".count)) else {
                throw BenchError("no used_memory in INFO memory of 127.0.0.1:\(port)")
            }
            total += bytes
        }
        return total
    }
}
